#!/usr/bin/env python3
"""canon.py DB TABLE [variant] -> prints the canonical row-hash expression h for TABLE.
variant: 'lenprefix' (short strings length-prefixed, long types MD5 per column) [default]
         'md5all'    (every string column MD5 per column)"""
import subprocess, sys
db, table = sys.argv[1], sys.argv[2]
variant = sys.argv[3] if len(sys.argv) > 3 else 'lenprefix'
out = subprocess.run(['mariadb', '-S', '/tmp/s22/sock', '-N', '-B', '-e',
   f"SELECT COLUMN_NAME, DATA_TYPE, IFNULL(CHARACTER_SET_NAME,'') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='{db}' AND TABLE_NAME='{table}' ORDER BY ORDINAL_POSITION"],
   capture_output=True, text=True, check=True).stdout
LONG = {'tinytext','text','mediumtext','longtext','tinyblob','blob','mediumblob','longblob','json','longtext'}
pieces = []
for line in out.strip().split('\n'):
    name, dt, cs = (line.split('\t') + [''])[:3]
    q = f"`{name}`"
    if dt in ('tinyint','smallint','mediumint','int','bigint','decimal','year','double','date','datetime','timestamp','time'):
        p = f"IFNULL({q},'N')"
    elif dt == 'float':
        p = f"IFNULL(CAST({q} AS DOUBLE),'N')"
    elif dt == 'bit':
        p = f"IFNULL(CAST({q} AS UNSIGNED),'N')"
    else:
        v = f"CONVERT({q} USING utf8mb4)" if (cs or dt == 'json') else q
        if dt in LONG or variant == 'md5all':
            p = f"IFNULL(MD5({v}),'N')"
        else:
            p = f"IFNULL(CONCAT(LENGTH({v}),':',{v}),'N')"
    pieces.append(p)
print("MD5(CONCAT(" + ",',',".join(pieces) + "))")
