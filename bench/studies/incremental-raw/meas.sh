#!/bin/bash
# meas.sh LABEL SQLFILE : runs SQL in one client session against bench; prints wall s, server CPU s, Bytes_sent, result rows
PID=$(cat /tmp/inc21/p.pid)
label=$1; f=$2
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
bs() { mariadb -S /tmp/inc21/p.sock -uroot -N -B -e "SHOW GLOBAL STATUS LIKE 'Bytes_sent'" | awk '{print $2}'; }
b0=$(bs); c0=$(cpu); t0=$(date +%s.%N)
mariadb --default-character-set=utf8mb4 -S /tmp/inc21/p.sock -uroot -N -B --quick bench < $f > /tmp/inc21/out.$label
t1=$(date +%s.%N); c1=$(cpu); b1=$(bs)
tck=$(getconf CLK_TCK)
printf "%-34s wall %7.3f s  server_cpu %6.2f s  bytes_sent %11d  out_lines %d\n" "$label" $(echo "$t1-$t0"|bc) $(echo "($c1-$c0)/$tck"|bc -l) $((b1-b0-20)) $(wc -l < /tmp/inc21/out.$label)
