# usage: source sess.sh; open_sess NAME; q NAME "sql"; 
open_sess() { rm -f /tmp/inc21/$1.in; mkfifo /tmp/inc21/$1.in; (mariadb -S /tmp/inc21/p.sock -u${2:-root} ${3:+-p$3} --unbuffered -vvv -t late < /tmp/inc21/$1.in > /tmp/inc21/$1.out 2>&1 &) ; eval "exec {fd_$1}>/tmp/inc21/$1.in"; }
q() { local fd; eval "fd=\$fd_$1"; echo "$2" >&$fd; sleep 0.3; }
close_sess() { local fd; eval "fd=\$fd_$1"; eval "exec $fd>&-"; }
