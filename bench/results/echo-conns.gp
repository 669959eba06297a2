set terminal pngcairo size 900,600 font 'sans,11'
set output 'bench/results/echo-conns.png'
set title 'Echo, 64-byte ping-pong: requests per second (median of rounds)'
set xlabel 'connections'
set logscale x
set xtics (1, 10, 100, 1000)
set xrange [0.7:1500]
set grid
set ylabel 'requests per second'
set yrange [0:*]
set format y '%.0s%c'
set key below
plot 'bench/results/echo-conns.dat' using 1:2 with linespoints lw 2 pt 7 title 'aio-echod', 'bench/results/echo-conns.dat' using 1:3 with linespoints lw 2 pt 7 title 'libevent callback echo (bench/levecho.c)', 'bench/results/echo-conns.dat' using 1:4 with linespoints lw 2 pt 7 title 'Python asyncio streams', 'bench/results/echo-conns.dat' using 1:5 with linespoints lw 2 pt 7 title 'uvloop Protocol'
