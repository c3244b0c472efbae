"""Acting on an incident from outside the admin: signed page links and chat commands.

`perform` is the one way a page link, a slash command or a chat button acts; `links` signs and
reads the links every page carries; `chat` answers Slack and Mattermost.
"""
