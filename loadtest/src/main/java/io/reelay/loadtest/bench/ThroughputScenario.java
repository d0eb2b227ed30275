package io.reelay.loadtest.bench;

import io.reelay.loadtest.peer.Peer;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Short requests (credits and state, alternating) completed per second by one worker process: a
 * backlog of them on sessions that already signed in, drained as fast as the worker goes, the
 * broker and the simulator each in a process of their own. The peer runs the seed's curl flow for
 * the same kind of request, one shell per request, many shells at once.
 */
public final class ThroughputScenario implements Scenario {

  static final String WORKER_HEAP = "1g";

  @Override
  public String name() {
    return "throughput";
  }

  @Override
  public String measures() {
    return "short requests (credits, state) completed per second by one worker; goal ≥ 1,000/s and ≥ 10× the peer";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    int requests = bench.count(3_000, 30_000);
    int sessions = Math.min(2_000, Math.max(50, requests / 15));
    double timeScale = 0.001;
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "1g");
      Fleet.Part worker = fleet.worker("worker", kafka, sim.url(), "max-active-requests = 4096", "calls-per-second = 0", WORKER_HEAP);
      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics())) {
        // every session signs in first (a token, a backend session): what is measured is the steady state
        traffic.warm("s", sessions, Action.STATE, Duration.ofMinutes(5));
        // then a backlog like the measured one, unmeasured, until the JIT of every process has compiled the path
        int warmUp = requests / 3;
        List<String> warmIds = new ArrayList<>(warmUp);
        for (int i = 0; i < warmUp; i++) {
          warmIds.add(traffic.send("s" + (i % sessions), i % 2 == 0 ? Action.CREDITS : Action.STATE, null));
        }
        traffic.flush();
        traffic.awaitAll(warmIds, Duration.ofMinutes(10));

        CpuShare cpu = new CpuShare(fleet);
        List<String> ids = new ArrayList<>(requests);
        long t0 = System.nanoTime();
        for (int i = 0; i < requests; i++) {
          ids.add(traffic.send("s" + (i % sessions), i % 2 == 0 ? Action.CREDITS : Action.STATE, null));
        }
        traffic.flush();
        Series perSecond = new Series("completed per second");
        int last = 0;
        long until = t0 + Duration.ofMinutes(bench.quick() ? 3 : 15).toNanos();
        int ended = 0;
        while (System.nanoTime() < until && ended < requests) {
          Thread.sleep(1000);
          ended = (int) ids.stream().filter(id -> traffic.done(id) != null).count();
          perSecond.add((System.nanoTime() - t0) / 1e9, ended - last);
          last = ended;
        }
        long lastArrival = ids.stream().map(traffic::done).filter(d -> d != null).mapToLong(Traffic.Done::arrivedNanos).max()
            .orElse(System.nanoTime());
        double seconds = (lastArrival - t0) / 1e9;
        cpu.report(report, seconds);
        report.figure("best 10 s, requests/s", best10(perSecond));
        double rate = ended / seconds;
        long completed = traffic.completed(ids);
        report.setting("requests", requests).setting("sessions", sessions).setting("worker", "one process, -Xmx" + WORKER_HEAP)
            .setting("simulator", "own process, time-scale " + timeScale + " (answers in well under 1 ms)")
            .setting("partitions", 12)
            .setting("warm-up", warmUp + " requests of the same kind drained first, unmeasured");
        String metrics = Metrics.scrape(worker.url());
        report.figure("worker: backend call, mean ms", Metrics.mean(metrics, "reelay_backend_calls_seconds", "") * 1000)
            .figure("worker: snapshot write, mean ms", Metrics.mean(metrics, "reelay_worker_snapshot_writes_seconds", "") * 1000);
        report.figure("requests ended", ended).figure("completed", completed).figure("terminal events read twice", traffic.duplicates())
            .figure("drain seconds", seconds);
        Goal g = Goal.atLeast("requests completed per second, one worker", 1000, rate, "req/s");
        if (bench.peer()) {
          Peer.Result peer = Peer.run(bench.repoRoot(), sim.url(), "credits", bench.quick() ? 60 : 300, 16, timeScale,
              Duration.ofMinutes(2));
          report.figure("peer: completed", peer.completed()).figure("peer: failed", peer.failures().toString())
              .figure("peer: shells at once", 16).latency("peer: one credits check, end to end", peer.latencyMs());
          g = g.withPeer(peer.perSecond());
          Goal tenTimes = Goal.atLeast("times the peer's rate", 10, peer.perSecond() == 0 ? Double.NaN : rate / peer.perSecond(), "×");
          report.goal(tenTimes.met() ? tenTimes : tenTimes.because(String.format(Locale.ROOT,
              "the peer's shells made %.0f checks/s on the same 2 cores the broker, the worker and the simulator share",
              peer.perSecond())));
        }
        if (!g.met()) {
          g = g.because(String.format(Locale.ROOT, "the machine's CPU is the limit: the worker, the broker, the simulator and this "
              + "driver share %d cores and used %s of them while it drained; per request that is %s of CPU, so everything "
              + "waits its turn (the worker's backend calls took %.0f ms on average, against a simulator that answers an idle "
              + "call in about a millisecond)", Runtime.getRuntime().availableProcessors(), cpu.summary(), cpu.perUnit(seconds, ended),
              Metrics.mean(metrics, "reelay_backend_calls_seconds", "") * 1000));
        }
        report.goal(g);
        report.plot("rate", "Completed requests per second", "requests/s", perSecond);
        report.note("Each request is one backend call on a session that signed in before the clock started (credits or state). "
            + "The peer does what the seed's flow does for a credits check, in a shell: an anonymous token, then the balance.");
      }
    }
    return report;
  }

  /** The highest mean over ten consecutive one-second samples (what the worker does once warm and fully fed). */
  private static double best10(Series perSecond) {
    List<Series.Point> p = perSecond.points();
    double best = 0;
    for (int i = 0; i + 10 <= p.size(); i++) {
      double sum = 0;
      for (int j = i; j < i + 10; j++) {
        sum += p.get(j).value();
      }
      best = Math.max(best, sum / 10);
    }
    return best;
  }
}
