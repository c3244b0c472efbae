# Date-times as Tocsin writes them everywhere (incidents.core.formatting.TIME_FORMAT): ISO date,
# 24-hour time and the zone, so a time never appears without the zone it is in.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
