# On-call schedules, rotation layers, overrides and handoffs (issue #4).
import django.db.models.deletion
import incidents.models.oncall
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_ingestion"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Rotation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120)),
                ('priority', models.PositiveSmallIntegerField(default=0, help_text='Higher layers win where they have someone on call.')),
                ('shift_kind', models.CharField(choices=[('daily', 'Daily'), ('weekly', 'Weekly'), ('hours', 'Every N hours')], default='weekly', max_length=10)),
                ('shift_hours', models.PositiveSmallIntegerField(blank=True, help_text="Shift length for 'every N hours' rotations.", null=True)),
                ('handoff_time', models.TimeField(help_text='Local wall-clock time of each handoff.')),
                ('handoff_weekday', models.PositiveSmallIntegerField(blank=True, choices=[(0, 'Mon'), (1, 'Tue'), (2, 'Wed'), (3, 'Thu'), (4, 'Fri'), (5, 'Sat'), (6, 'Sun')], help_text="Weekly rotations: day of the handoff (default: the start date's weekday).", null=True)),
                ('start_date', models.DateField(help_text='The first handoff is on or after this day.')),
                ('ends_at', models.DateTimeField(blank=True, help_text='The layer stops here.', null=True)),
                ('restrict_weekdays', models.JSONField(blank=True, default=list, help_text='Only on these weekdays (0 = Monday); empty for all.')),
                ('restrict_start', models.TimeField(blank=True, help_text='Only from this local time…', null=True)),
                ('restrict_end', models.TimeField(blank=True, help_text='…until this local time (before the start: over midnight).', null=True)),
            ],
            options={
                'ordering': ['schedule', '-priority', 'id'],
            },
        ),
        migrations.CreateModel(
            name='RotationParticipant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('rotation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='incidents.rotation')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['position', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Schedule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('time_zone', models.CharField(default='UTC', help_text='IANA zone; handoff times and restrictions are wall-clock times in it.', max_length=64, validators=[incidents.models.oncall.validate_time_zone])),
                ('description', models.TextField(blank=True)),
                ('ical_token', models.CharField(default=incidents.models.oncall.new_ical_token, editable=False, max_length=64, unique=True)),
                ('handoffs_checked_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('backup_schedule', models.ForeignKey(blank=True, help_text="Its on-call is named 'Secondary' in this schedule's handoff messages.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='incidents.schedule')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='rotation',
            name='schedule',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rotations', to='incidents.schedule'),
        ),
        migrations.CreateModel(
            name='Override',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('starts_at', models.DateTimeField()),
                ('ends_at', models.DateTimeField()),
                ('reason', models.CharField(blank=True, max_length=255)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('replaces', models.ForeignKey(blank=True, help_text='Only replace this person (empty: whoever is on call).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='oncall_overrides', to=settings.AUTH_USER_MODEL)),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='overrides', to='incidents.schedule')),
            ],
            options={
                'ordering': ['starts_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='HandoffChannel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook (Slack-compatible JSON)')], max_length=10)),
                ('address', models.CharField(help_text='An email address or an http(s) URL.', max_length=500)),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='handoff_channels', to='incidents.schedule')),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='Handoff',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField()),
                ('message', models.TextField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('incoming', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('outgoing', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='handoffs', to='incidents.schedule')),
            ],
            options={
                'ordering': ['-at'],
            },
        ),
        migrations.CreateModel(
            name='UserCalendar',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(default=incidents.models.oncall.new_ical_token, max_length=64, unique=True)),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='oncall_calendar', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name='HandoffDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook (Slack-compatible JSON)')], max_length=10)),
                ('address', models.CharField(max_length=500)),
                ('notice', models.BooleanField(default=False)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
                ('handoff', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='incidents.handoff')),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.UniqueConstraint(fields=('handoff', 'kind', 'address', 'notice'), name='handoff_delivery_once')],
            },
        ),
        migrations.AddConstraint(
            model_name='rotation',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('shift_kind', 'hours'), _negated=True), ('shift_hours__gte', 1), _connector='OR'), name='rotation_hours_shift_has_length'),
        ),
        migrations.AddConstraint(
            model_name='rotation',
            constraint=models.CheckConstraint(condition=models.Q(('handoff_weekday__isnull', True), ('handoff_weekday__lte', 6), _connector='OR'), name='rotation_handoff_weekday_range'),
        ),
        migrations.AddConstraint(
            model_name='rotation',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('restrict_end__isnull', True), ('restrict_start__isnull', True)), models.Q(('restrict_end__isnull', False), ('restrict_start__isnull', False)), _connector='OR'), name='rotation_restriction_hours_paired'),
        ),
        migrations.AddIndex(
            model_name='override',
            index=models.Index(fields=['schedule', 'ends_at'], name='override_schedule_ends'),
        ),
        migrations.AddConstraint(
            model_name='override',
            constraint=models.CheckConstraint(condition=models.Q(('ends_at__gt', models.F('starts_at'))), name='override_ends_after_start'),
        ),
        migrations.AddConstraint(
            model_name='handoffchannel',
            constraint=models.UniqueConstraint(fields=('schedule', 'kind', 'address'), name='handoff_channel_once_per_schedule'),
        ),
        migrations.AddConstraint(
            model_name='handoff',
            constraint=models.UniqueConstraint(fields=('schedule', 'at'), name='handoff_once_per_change'),
        ),
    ]
