# Side-by-side table from the combined results.jsonl of scripts/bench (jq -s): one object per
# harness run with .server (a target: ours, qualified, ceiling_pq, ceiling_pgx, original), .run
# and run.sh's fields. A row per scenario and target, in the order of $scen and $targets; with
# several runs the run with the median req/s is shown, and errors are summed over all runs.
# CPU µs/req = the server's CPU time per request (server CPU % × 10,000 / req/s).
# Args: $scen (scenario order), $targets (target order), $pgtps (pgbench tps of scenario a's
# query, "" when not measured), $pgforeign (foreign CPU % during pgbench).
def r(d): if . == null then "–" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
def group: if length <= 3 then . else (.[:-3] | group) + "," + .[-3:] end;
def thousands: if . == null then "–" else (round | tostring | group) end;
def errs: (.status_errors // 0) + (.connect_errors // 0) + (.read_errors // 0) + (.write_errors // 0) + (.timeouts // 0);
def cpu_us: if (.rps // 0) > 0 and .server_cpu_pct != null then .server_cpu_pct * 10000 / .rps else null end;
. as $all
| def rows($srv; $s): [ $all[] | select(.server == $srv and .scenario == $s) ];
  def median($srv; $s): rows($srv; $s) | sort_by(.rps // 0) | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def errsum($srv; $s): rows($srv; $s) | if length == 0 then null else (map(errs) | add) end;
  def line($s; $srv):
    median($srv; $s) as $u
    | [ $s, ($u.desc // ""), $srv,
        ($u.rps | thousands), ($u.lat_p99_us | if . == null then null else . / 1000 end | r(1)),
        (errsum($srv; $s) | r(0)), ($u | cpu_us | thousands),
        ($u.peak_rss_mb | r(1)), ($u.foreign_cpu_pct | r(0)) ]
    | "| " + join(" | ") + " |";
  "| scenario | description | server | req/s | p99 ms | errors | CPU µs/req | peak RSS MB | foreign CPU % |",
  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ( $scen | split(" ")[] | select(. != "") as $s
    | $targets | split(" ")[] | select(. != "") as $t
    | if rows($t; $s) != [] then line($s; $t) else empty end ),
  "",
  ( median("ours"; "a") as $a
    | if $pgtps == "" then "PostgreSQL ceiling for scenario a: not measured."
      else ($pgtps | tonumber) as $tps
        | "PostgreSQL ceiling for scenario a (pgbench, same query, extended protocol, 32 clients, foreign CPU \($pgforeign) %): \($tps | thousands) tps; "
          + "ours \(if $a == null then "–" else ($a.rps / $tps * 100 | r(0)) end) % of it."
      end ),
  "Errors = non-2xx + socket errors (connect, read, write, timeout). Foreign CPU = CPU burnt by processes outside the benchmark during the run (should be ~0)."
