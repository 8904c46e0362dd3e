#!/bin/sh
# Reruns the §1.3 byte-exactness test: the fidelity rows in f.items, one change at a time in a copy m.
M="mariadb -S /tmp/s22/sock --default-character-set=utf8mb4"; H=$(/tmp/s22/canon2.py f items)
AGG="COUNT(*), COUNT(h), SUM(CAST(CONV(SUBSTRING(h,1,16),16,10) AS UNSIGNED)), SUM(CAST(CONV(SUBSTRING(h,17,16),16,10) AS UNSIGNED))"
base=$($M f -N -e "SET time_zone='+00:00'; SELECT $AGG FROM (SELECT $H AS h FROM items LIMIT 18446744073709551615) q")
echo "base: $base"
while IFS= read -r mut; do
  $M f -e "DROP TABLE IF EXISTS m; CREATE TABLE m LIKE items; INSERT INTO m SELECT * FROM items; $mut" >/dev/null
  r=$($M f -N -e "SET time_zone='+00:00'; SELECT $AGG FROM (SELECT $H AS h FROM m LIMIT 18446744073709551615) q")
  [ "$r" = "$base" ] && v=SAME || v=differs; echo "$v  <- $mut"
done <<'X'
SELECT 1;
UPDATE m SET vc = CONCAT(vc, ' ') WHERE id = 1;
UPDATE m SET vc = '🚀 NAÏVE café' WHERE id = 1;
UPDATE m SET vc = '' WHERE id = 3;
UPDATE m SET vc = NULL WHERE id = 2;
UPDATE m SET tx = NULL WHERE id = 2;
UPDATE m SET vc = NULL, tx = '' WHERE id = 2;
UPDATE m SET big = CONCAT(LEFT(big, LENGTH(big)-1), 'X') WHERE id = 4;
UPDATE m SET bl = 0x00FF5D WHERE id = 1;
UPDATE m SET bin = 0x005C090A2700 WHERE id = 1;
UPDATE m SET d = 0.10000000000000002 WHERE id = 2;
UPDATE m SET f = 0.12345671 WHERE id = 2;
UPDATE m SET dtm = '2024-02-29 12:34:56.000002' WHERE id = 4;
UPDATE m SET ts = '2024-03-31 01:30:00.500001' WHERE id = 4;
UPDATE m SET tm = '123:45:06.789013' WHERE id = 4;
UPDATE m SET js = '{"a":[1,"🚀"],"b":null}' WHERE id = 1;
UPDATE m SET en = 'a' WHERE id = 2;
UPDATE m SET st = 'x' WHERE id = 1;
UPDATE m SET b64 = 0xFFFFFFFFFFFFFFFE WHERE id = 1;
UPDATE m SET dec38 = '9999999999999999999999999999.9999999998' WHERE id = 1;
UPDATE m SET yr = 0 WHERE id = 2;
UPDATE m SET vc = 'N', ch = NULL WHERE id = 4;
UPDATE m SET ch = 'N', vc = NULL WHERE id = 4;
X
