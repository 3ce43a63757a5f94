# Side-by-side table from the combined results.jsonl of scripts/bench (jq -s): one object per
# harness run with .server (original | ours | qualified), .run and run.sh's fields.
# Args: $scen (scenario order), $qual (scenarios also run in qualified mode), $pgtps (pgbench tps
# of scenario a's query, "" when not measured), $pgforeign (foreign CPU % during pgbench).
# With several runs the run with the median req/s is shown per server and scenario; errors are
# summed over all runs.
def r(d): if . == null then "–" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
def group: if length <= 3 then . else (.[:-3] | group) + "," + .[-3:] end;
def thousands: if . == null then "–" else (round | tostring | group) end;
def errs: (.status_errors // 0) + (.connect_errors // 0) + (.read_errors // 0) + (.write_errors // 0) + (.timeouts // 0);
. as $all
| def rows($srv; $s): [ $all[] | select(.server == $srv and .scenario == $s) ];
  def median($srv; $s): rows($srv; $s) | sort_by(.rps // 0) | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def errsum($srv; $s): rows($srv; $s) | if length == 0 then null else (map(errs) | add) end;
  # Targets of issue 8 (and issue 6 for qualified d): "yes", "no" or "–" (none set).
  def target($s; $qualified; $o; $u; $ratio; $ue):
    if $o == null or $u == null then "–"
    elif $qualified and $s == "d" then
      (if $ratio >= 50 and ($u.rps // 0) >= 2500 and ($u.lat_p99_us // 1e12) < 100000 and $ue == 0 then "yes" else "no" end)
    elif ($qualified | not) and ([$s] | inside(["a", "b", "c", "e", "f"])) then
      (if $ratio >= 5 and ($u.lat_p99_us // 1e12) <= ($o.lat_p99_us // 0) and $ue == 0 then "yes" else "no" end)
    else "–" end;
  def line($s; $lbl; $srv; $qualified):
    median("original"; $s) as $o | median($srv; $s) as $u
    | errsum("original"; $s) as $oe | errsum($srv; $s) as $ue
    | (if $o != null and $u != null and ($o.rps // 0) > 0 then $u.rps / $o.rps else null end) as $ratio
    | [ $lbl, (($o // $u).desc // ""),
        ($o.rps | thousands), ($o.lat_p99_us | if . == null then null else . / 1000 end | r(1)),
        ($u.rps | thousands), ($u.lat_p99_us | if . == null then null else . / 1000 end | r(1)),
        (if $ratio == null then "–" elif $ratio >= 10 then ($ratio | r(0)) + "×" else ($ratio | r(1)) + "×" end),
        ($oe | r(0)), ($ue | r(0)),
        ($o.peak_rss_mb | r(1)), ($u.peak_rss_mb | r(1)),
        "\($o.foreign_cpu_pct | r(0)) / \($u.foreign_cpu_pct | r(0))",
        target($s; $qualified; $o; $u; $ratio; $ue) ]
    | "| " + join(" | ") + " |";
  ($qual | split(" ") | map(select(. != ""))) as $qs
  | "| scenario | description | original req/s | original p99 ms | ours req/s | ours p99 ms | ours / original req/s | original errors | ours errors | original peak RSS MB | ours peak RSS MB | foreign CPU % (orig / ours) | target met |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ( $scen | split(" ")[] | select(. != "") as $s
      | (if rows("ours"; $s) != [] or rows("original"; $s) != [] then line($s; $s; "ours"; false) else empty end),
        (if ($qs | index([$s])) and rows("qualified"; $s) != [] then line($s; "\($s) (qualified)"; "qualified"; true) else empty end) ),
    "",
    ( median("ours"; "a") as $a | median("original"; "a") as $oa
      | if $pgtps == "" then "PostgreSQL ceiling for scenario a: not measured."
        else ($pgtps | tonumber) as $tps
          | "PostgreSQL ceiling for scenario a (pgbench, same query, extended protocol, 32 clients, foreign CPU \($pgforeign) %): \($tps | thousands) tps; "
            + "ours \(if $a == null then "–" else ($a.rps / $tps * 100 | r(0)) end) % of it (target ≥ 40 %), "
            + "original \(if $oa == null then "–" else ($oa.rps / $tps * 100 | r(0)) end) %."
        end ),
    "Errors = non-2xx + socket errors (connect, read, write, timeout). Foreign CPU = CPU burnt by processes outside the benchmark during the run (should be ~0)."
