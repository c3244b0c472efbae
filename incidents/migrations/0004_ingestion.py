import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_staff_groups")]

    operations = [
        migrations.CreateModel(
            name='Integration',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('kind', models.CharField(choices=[('alertmanager', 'Prometheus Alertmanager'), ('grafana', 'Grafana alerting'), ('pagerduty', 'PagerDuty Events API v2'), ('opsgenie', 'Opsgenie alert API'), ('generic', 'Generic JSON webhook')], max_length=16)),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('token_prefix', models.CharField(editable=False, help_text='First characters of the token, to recognise it.', max_length=8)),
                ('severity_mapping', models.JSONField(blank=True, default=dict, help_text='Source severity -> our severity key, e.g. {"critical": "P1"}; overrides the defaults of the kind.')),
                ('enabled', models.BooleanField(default=True)),
                ('rate_limit_per_minute', models.PositiveIntegerField(default=120, help_text='Requests accepted per minute; 0 for no limit.')),
                ('resolve_incident_on_alert_resolve', models.BooleanField(default=True, help_text='Resolve the incident once every alert attached to it has resolved.', verbose_name='resolve incident when its alerts resolve')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('last_alert_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('alert_count', models.PositiveBigIntegerField(default=0, editable=False)),
                ('rate_window_start', models.DateTimeField(blank=True, editable=False, null=True)),
                ('rate_window_count', models.PositiveIntegerField(default=0, editable=False)),
                ('service', models.ForeignKey(blank=True, help_text="Incidents opened from this integration's alerts are on this service.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='integrations', to='incidents.service')),
                ('severity', models.ForeignKey(blank=True, help_text='Used when an alert has no severity or one the mapping does not know (empty: P2).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='incidents.severity', verbose_name='default severity')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='Alert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('dedup_key', models.CharField(max_length=512)),
                ('status', models.CharField(choices=[('firing', 'Firing'), ('resolved', 'Resolved')], default='firing', max_length=10)),
                ('summary', models.TextField()),
                ('severity', models.CharField(blank=True, help_text='As the source sent it.', max_length=64)),
                ('labels', models.JSONField(blank=True, default=dict)),
                ('annotations', models.JSONField(blank=True, default=dict)),
                ('source', models.CharField(blank=True, max_length=255)),
                ('link', models.CharField(blank=True, max_length=2048)),
                ('group_key', models.CharField(blank=True, help_text="Alertmanager's groupKey (hashed when long).", max_length=255)),
                ('first_seen_at', models.DateTimeField()),
                ('last_seen_at', models.DateTimeField()),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('count', models.PositiveIntegerField(default=1)),
                ('last_payload', models.JSONField(blank=True, default=dict)),
                ('incident', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='alerts', to='incidents.incident')),
                ('integration', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='incidents.integration')),
            ],
            options={
                'ordering': ['-last_seen_at', '-id'],
                'indexes': [models.Index(fields=['integration', 'group_key'], name='alert_integration_group'), models.Index(fields=['dedup_key'], name='alert_dedup_key')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'firing')), fields=('integration', 'dedup_key'), name='alert_one_firing_per_key'), models.CheckConstraint(condition=models.Q(models.Q(('resolved_at__isnull', True), ('status', 'firing')), models.Q(('resolved_at__isnull', False), ('status', 'resolved')), _connector='OR'), name='alert_resolved_at_iff_resolved')],
            },
        ),
    ]
