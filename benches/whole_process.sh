#!/bin/bash
# Whole-process figures of the release CLI on the gen_workloads.py files (BENCHMARKS.md summary).
# Needs hyperfine and GNU time (apt-get install hyperfine time).
W=${CTRLOG_WORKLOADS:?set CTRLOG_WORKLOADS to the gen_workloads.py output dir}
B=${CTRLOG_BIN:-$(dirname "$0")/../target/release/ctrlog}
echo "load: $(uptime)"
for f in short.txt mixed.txt long.txt; do
  hyperfine -w 1 -r 5 --export-json /tmp/h.json "$B write --max-len 16384 < $W/$f > /dev/null" >/dev/null 2>&1
  python3 -c "import json,os;r=json.load(open('/tmp/h.json'))['results'][0];s=os.path.getsize('$W/$f');print('write $f', 'mean %.3f s min %.3f s -> %.2f GB/s (best %.2f)'%(r['mean'],r['min'],s/r['mean']/1e9,s/r['min']/1e9))"
  /usr/bin/time -f "  rss %M KiB" $B write --max-len 16384 < $W/$f > /dev/null
done
hyperfine -w 1 -r 5 --export-json /tmp/h.json "$B write --max-len -1 < $W/oneline.txt > /dev/null" >/dev/null 2>&1
python3 -c "import json,os;r=json.load(open('/tmp/h.json'))['results'][0];s=os.path.getsize('$W/oneline.txt');print('write oneline -1', 'mean %.3f s -> %.2f GB/s'%(r['mean'],s/r['mean']/1e9))"
/usr/bin/time -f "  rss %M KiB" $B write --max-len -1 < $W/oneline.txt > /dev/null
for f in nvidia-err-end.json nvidia-err-mid.json nvidia-err-start.json nvidia-noerr.json; do
  hyperfine -N -w 5 -r 50 -i --export-json /tmp/h.json "$B last-error $W/$f" >/dev/null 2>&1
  python3 -c "import json;r=json.load(open('/tmp/h.json'))['results'][0];print('last-error $f', 'mean %.2f ms min %.2f ms'%(r['mean']*1e3,r['min']*1e3))"
  /usr/bin/time -f "  rss %M KiB" $B last-error $W/$f > /dev/null
done
for f in cri.log docker-json.log; do
  hyperfine -N -w 1 -r 5 --export-json /tmp/h.json "$B logs $W/$f" --output null >/dev/null 2>&1
  python3 -c "import json,os;r=json.load(open('/tmp/h.json'))['results'][0];s=os.path.getsize('$W/$f');print('logs $f', 'mean %.3f s -> %.2f GB/s'%(r['mean'],s/r['mean']/1e9))"
  /usr/bin/time -f "  rss %M KiB" $B logs $W/$f > /dev/null 2>&1
  hyperfine -N -w 5 -r 50 --export-json /tmp/h.json "$B logs --tail 10 $W/$f" --output null >/dev/null 2>&1
  python3 -c "import json;r=json.load(open('/tmp/h.json'))['results'][0];print('logs --tail 10 $f', 'mean %.2f ms'%(r['mean']*1e3))"
done
echo "load: $(uptime)"
