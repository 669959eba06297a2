set terminal pngcairo size 900,1000 font 'sans,11'
set output 'bench/results/proxy-conns.png'
set multiplot layout 2,1 title 'Proxy in front of levecho, 64-byte ping-pong (median of rounds)'
set xlabel 'connections'
set logscale x
set xtics (1, 10, 100, 1000)
set xrange [0.7:1500]
set grid
set title 'requests per second'
set ylabel 'requests per second'
set yrange [0:*]
set format y '%.0s%c'
unset key
plot 'bench/results/proxy-conns.dat' using 1:2 with linespoints lw 2 pt 7 title 'aio-echod', 'bench/results/proxy-conns.dat' using 1:3 with linespoints lw 2 pt 7 title 'HAProxy (mode tcp)', 'bench/results/proxy-conns.dat' using 1:4 with linespoints lw 2 pt 7 title 'nginx stream', 'bench/results/proxy-conns.dat' using 1:5 with linespoints lw 2 pt 7 title 'rinetd', 'bench/results/proxy-conns.dat' using 1:6 with linespoints lw 2 pt 7 title 'socat (fork)'
set title 'proxy CPU per request'
set ylabel 'CPU us per request (log scale)'
set logscale y
set yrange [*:*]
set format y '%g'
set key below
plot 'bench/results/proxy-conns.dat' using 1:7 with linespoints lw 2 pt 7 title 'aio-echod', 'bench/results/proxy-conns.dat' using 1:8 with linespoints lw 2 pt 7 title 'HAProxy (mode tcp)', 'bench/results/proxy-conns.dat' using 1:9 with linespoints lw 2 pt 7 title 'nginx stream', 'bench/results/proxy-conns.dat' using 1:10 with linespoints lw 2 pt 7 title 'rinetd', 'bench/results/proxy-conns.dat' using 1:11 with linespoints lw 2 pt 7 title 'socat (fork)'
unset multiplot
