"""The embedded filesystem broker, with messages that appear whole.

kombu's filesystem transport creates a message file and then writes it; a worker polling the
folder can take the file in between, read it empty and stop with "Unrecoverable error:
JSONDecodeError". Here a message is written under a name no queue reads and then renamed,
which on one filesystem is atomic: a reader finds either no file or the whole message.
"""

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.partial"  # ends in .partial: no queue takes it
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def use_atomic_filesystem_transport() -> None:
    """`filesystem://` broker URLs get this transport."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
