# Escalation policies, incident escalation state, severity timers, contact methods and
# notifications (issue #5).
import datetime
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0005_oncall"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='EscalationPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('description', models.TextField(blank=True)),
                ('repeat', models.PositiveSmallIntegerField(default=0, help_text='Run all the steps again this many times while nobody acknowledges.')),
                ('repeat_delay', models.DurationField(default=datetime.timedelta(seconds=300), help_text='Wait this long after the last step before starting the next round.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name_plural': 'escalation policies',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='TeamChannel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('kind', models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook (Slack-compatible JSON)')], max_length=10)),
                ('address', models.CharField(help_text='An email address or an http(s) URL.', max_length=500)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='incident',
            name='acknowledge_breached_at',
            field=models.DateTimeField(blank=True, help_text='When the acknowledge target passed unacknowledged.', null=True),
        ),
        migrations.CreateModel(
            name='ContactMethod',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook (Slack-compatible JSON)')], max_length=10)),
                ('address', models.CharField(help_text='An email address or an http(s) URL.', max_length=500)),
                ('label', models.CharField(blank=True, max_length=60)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contact_methods', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['user', 'id'],
            },
        ),
        migrations.AddField(
            model_name='service',
            name='escalation_policy',
            field=models.ForeignKey(blank=True, help_text='Who gets paged when an incident opens on this service.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='services', to='incidents.escalationpolicy'),
        ),
        migrations.CreateModel(
            name='EscalationStep',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('order', models.PositiveSmallIntegerField(default=0)),
                ('delay', models.DurationField(default=datetime.timedelta(0), help_text='Wait this long after the previous step (the first: after opening) before paging.')),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='steps', to='incidents.escalationpolicy')),
            ],
            options={
                'ordering': ['policy', 'order', 'id'],
            },
        ),
        migrations.CreateModel(
            name='IncidentDeadline',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('acknowledge', 'Acknowledge target'), ('update', 'Status-update cadence')], max_length=12)),
                ('due_at', models.DateTimeField()),
                ('version', models.PositiveIntegerField(default=0)),
                ('fired_count', models.PositiveIntegerField(default=0)),
                ('done_at', models.DateTimeField(blank=True, null=True)),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deadlines', to='incidents.incident')),
            ],
            options={
                'ordering': ['due_at'],
            },
        ),
        migrations.CreateModel(
            name='IncidentEscalation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('policy_name', models.CharField(max_length=120)),
                ('snapshot', models.JSONField(help_text="The policy's steps as they were when the incident opened.")),
                ('step', models.PositiveSmallIntegerField(default=0, help_text='Index of the next step to fire.')),
                ('round', models.PositiveSmallIntegerField(default=0)),
                ('state', models.CharField(choices=[('active', 'Active'), ('acknowledged', 'Acknowledged'), ('resolved', 'Resolved'), ('exhausted', 'Exhausted')], default='active', max_length=12)),
                ('next_at', models.DateTimeField(blank=True, null=True)),
                ('version', models.PositiveIntegerField(default=0)),
                ('last_fired_at', models.DateTimeField(blank=True, null=True)),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('incident', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='escalation', to='incidents.incident')),
                ('policy', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='incidents.escalationpolicy')),
            ],
            options={
                'ordering': ['-started_at'],
                'permissions': [('escalate_incident', 'Can escalate incidents now')],
            },
        ),
        migrations.CreateModel(
            name='NotificationRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('order', models.PositiveSmallIntegerField(default=0)),
                ('delay', models.DurationField(default=datetime.timedelta(0), help_text='After being paged, if the incident is still unacknowledged.')),
                ('contact_method', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='incidents.contactmethod')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notification_rules', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['user', 'order', 'id'],
            },
        ),
        migrations.CreateModel(
            name='SeverityRoute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='routes', to='incidents.escalationpolicy')),
                ('service', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='severity_routes', to='incidents.service')),
                ('severity', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.severity')),
            ],
            options={
                'ordering': ['severity', 'service'],
            },
        ),
        migrations.CreateModel(
            name='Notification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reason', models.CharField(choices=[('page', 'Page'), ('reminder', 'Update reminder')], default='page', max_length=10)),
                ('recipient', models.CharField(help_text='Who, as it read when it was queued.', max_length=150)),
                ('kind', models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook (Slack-compatible JSON)')], max_length=10)),
                ('address', models.CharField(max_length=500)),
                ('round', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('step', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('sent', 'Sent'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
                ('due_at', models.DateTimeField(help_text='Send at (or retry at) this time.')),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('dedup_key', models.CharField(editable=False, max_length=200, unique=True)),
                ('contact_method', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='incidents.contactmethod')),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='incidents.incident')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('rule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='incidents.notificationrule')),
                ('channel', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='incidents.teamchannel')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'permissions': [('retry_notification', 'Can retry notifications')],
            },
        ),
        migrations.CreateModel(
            name='EscalationTarget',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('type', models.CharField(choices=[('schedule', 'On-call of a schedule'), ('user', 'User'), ('channel', 'Team channel')], max_length=10)),
                ('schedule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.schedule')),
                ('step', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='targets', to='incidents.escalationstep')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('channel', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.teamchannel')),
            ],
            options={
                'ordering': ['step', 'id'],
            },
        ),
        migrations.AddConstraint(
            model_name='contactmethod',
            constraint=models.UniqueConstraint(fields=('user', 'kind', 'address'), name='contact_method_once_per_user'),
        ),
        migrations.AddConstraint(
            model_name='escalationstep',
            constraint=models.CheckConstraint(condition=models.Q(('delay__gte', datetime.timedelta(0))), name='step_delay_not_negative'),
        ),
        migrations.AddIndex(
            model_name='incidentdeadline',
            index=models.Index(condition=models.Q(('done_at__isnull', True)), fields=['due_at'], name='deadline_pending_due'),
        ),
        migrations.AddConstraint(
            model_name='incidentdeadline',
            constraint=models.UniqueConstraint(fields=('incident', 'kind'), name='deadline_once_per_kind'),
        ),
        migrations.AddIndex(
            model_name='incidentescalation',
            index=models.Index(condition=models.Q(('state', 'active')), fields=['next_at'], name='escalation_active_next_at'),
        ),
        migrations.AddConstraint(
            model_name='incidentescalation',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'active'), _negated=True), ('next_at__isnull', False), _connector='OR'), name='escalation_active_has_next_at'),
        ),
        migrations.AddConstraint(
            model_name='notificationrule',
            constraint=models.CheckConstraint(condition=models.Q(('delay__gte', datetime.timedelta(0))), name='rule_delay_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='severityroute',
            constraint=models.UniqueConstraint(fields=('severity', 'service'), name='severity_route_once_per_service'),
        ),
        migrations.AddConstraint(
            model_name='severityroute',
            constraint=models.UniqueConstraint(condition=models.Q(('service__isnull', True)), fields=('severity',), name='severity_route_once_for_all_services'),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('status', 'queued')), fields=['due_at'], name='notification_queued_due'),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(fields=['incident', '-created_at'], name='notification_incident'),
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'sent'), _negated=True), ('sent_at__isnull', False), _connector='OR'), name='notification_sent_has_sent_at'),
        ),
        migrations.AddConstraint(
            model_name='escalationtarget',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('channel__isnull', True), ('schedule__isnull', False), ('type', 'schedule'), ('user__isnull', True)), models.Q(('channel__isnull', True), ('schedule__isnull', True), ('type', 'user'), ('user__isnull', False)), models.Q(('channel__isnull', False), ('schedule__isnull', True), ('type', 'channel'), ('user__isnull', True)), _connector='OR'), name='escalation_target_matches_type'),
        ),
    ]
