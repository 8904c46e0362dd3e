#!/usr/bin/env python3
"""canon2.py DB TABLE -> the recommended canonical row hash (32 hex) for TABLE, built from information_schema."""
import subprocess, sys
db, table = sys.argv[1], sys.argv[2]
out = subprocess.run(['mariadb', '-S', '/tmp/s22/sock', '-N', '-B', '-e',
   f"SELECT COLUMN_NAME, DATA_TYPE, IFNULL(CHARACTER_SET_NAME,'') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='{db}' AND TABLE_NAME='{table}' ORDER BY ORDINAL_POSITION"],
   capture_output=True, text=True, check=True).stdout
NUMTEXT = {'tinyint','smallint','mediumint','int','bigint','decimal','year','double','date','datetime','timestamp','time'}
SHORT = {'char','varchar','tinytext','text','enum','set','binary','varbinary','tinyblob','blob'}
nulls, pieces = [], []
for line in out.strip().split('\n'):
    name, dt, cs = (line.split('\t') + [''])[:3]
    q = f"`{name}`"
    nulls.append(f"ISNULL({q})")
    if dt in NUMTEXT:
        p = q
    elif dt == 'float':
        p = f"CAST({q} AS DOUBLE)"
    elif dt == 'bit':
        p = f"CAST({q} AS UNSIGNED)"
    else:
        v = q
        if cs and cs != 'utf8mb4':
            v = f"CONVERT({q} USING utf8mb4)"
        if dt != 'json' and not cs and dt not in ('binary','varbinary','tinyblob','blob','mediumblob','longblob'):
            raise SystemExit(f"unhandled type {dt}")
        if dt in SHORT:
            b = f"CAST({v} AS BINARY)"
            p = f"CONCAT(LENGTH({b}),':',{b})"
        else:  # mediumtext/longtext/mediumblob/longblob/json: hash apart (max_allowed_packet)
            p = f"MD5({v})"
    pieces.append(p)
print("MD5(CONCAT_WS(',',CONCAT(" + ",".join(nulls) + ")," + ",".join(pieces) + "))")
