package io.reelay.loadtest.bench;

import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import java.time.Duration;
import java.util.Locale;

/**
 * How many sessions one worker at {@code -Xmx1g} holds in flight at once, each with its agent
 * stream open (a generation that takes 10–15 minutes), and what each costs in heap and resident
 * memory. Streams are opened until the target is reached or the count stops growing.
 */
public final class CapacityScenario implements Scenario {

  /** New sessions a second. */
  private static final int ARRIVALS = 250;

  @Override
  public String name() {
    return "capacity";
  }

  @Override
  public String measures() {
    return "concurrent in-flight sessions, each with an open agent stream, on one worker at -Xmx1g; heap and RSS per session; "
        + "goal ≥ 15,000";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    int target = bench.count(1_000, 15_000);
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      // the vendor's own pace (time-scale 1), generations drawn out so that every stream stays open while they are counted
      Fleet.Part sim = fleet.sim(Sims.loadProfile(1.0) + "\ntiming { generation-min = 600s, generation-max = 900s }", "2g");
      // the worker's defaults (max-active-requests auto, the client's pools), but no cap on calls a second:
      // that is a courtesy to the vendor's rate, not a capacity, and at 50 a second signing 15,000 in takes 15 min
      Fleet.Part worker = fleet.worker("worker", kafka, sim.url(), "", "calls-per-second = 0", "1g");
      long heapBefore = worker.liveHeapBytes();
      long rssBefore = worker.rssBytes();
      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics())) {
        long t0 = System.nanoTime();
        Series open = new Series("agent streams open");
        double best = 0;
        long lastGrowth = System.nanoTime();
        Duration patience = Duration.ofSeconds(bench.quick() ? 20 : 60);
        int sent = 0;
        // sessions arrive at ARRIVALS a second (people starting work), not all in one instant
        // until every session has its stream, or (once all arrived and the first stream opened) the
        // count stopped growing for `patience` (sign-ins retried with backoff land late), or the cap
        while (best < target && (sent < target || best == 0 || System.nanoTime() - lastGrowth < patience.toNanos())
            && System.nanoTime() - t0 < Duration.ofMinutes(bench.quick() ? 3 : 20).toNanos()) {
          for (int i = 0; i < ARRIVALS && sent < target; i++, sent++) {
            traffic.send("c" + sent, Action.GENERATE, "generate a 5-second clip of a slow tide, " + sent);
          }
          traffic.flush();
          Thread.sleep(1000);
          double now = Metrics.sum(Metrics.scrape(worker.url()), "reelay_backend_open_streams", "");
          open.add((System.nanoTime() - t0) / 1e9, now);
          if (now > best) {
            best = now;
            lastGrowth = System.nanoTime();
          }
        }
        double rampSeconds = (System.nanoTime() - t0) / 1e9;
        long heap = worker.liveHeapBytes();
        long rss = worker.rssBytes();
        double streams = Metrics.sum(Metrics.scrape(worker.url()), "reelay_backend_open_streams", "");
        double heapPer = streams > 0 ? (heap - heapBefore) / streams : Double.NaN;
        double rssPer = streams > 0 ? (rss - rssBefore) / streams : Double.NaN;
        report.setting("sessions offered", target + ", " + ARRIVALS + " new ones a second")
            .setting("worker", "one process, -Xmx1g, default settings (max-active-requests auto, the client's pools) but "
                + "calls-per-second 0")
            .setting("simulator", "own process, -Xmx2g, time-scale 1, generations of 10–15 min")
            .setting("open-file limit per process", fleet.openFileLimit());
        report.figure("streams open at the end", streams).figure("ramp seconds", rampSeconds)
            .figure("live heap before (MB)", heapBefore / 1e6).figure("live heap with the streams open (MB)", heap / 1e6)
            .figure("RSS before (MB)", rssBefore / 1e6).figure("RSS with the streams open (MB)", rss / 1e6)
            .figure("live heap per session (KB)", heapPer / 1e3).figure("RSS per session (KB)", rssPer / 1e3)
            .figure("requests that ended meanwhile (should be 0)", traffic.doneCount());
        Goal g = Goal.atLeast("in-flight sessions with an open stream, one worker", bench.quick() ? target : 15_000, streams, "sessions");
        if (!g.met()) {
          g = g.because(String.format(Locale.ROOT, "the count stopped growing at %,.0f (live heap %,.0f MB of 1,024, RSS %,.0f MB); "
              + "see %s", best, heap / 1e6, rss / 1e6, worker.log()));
        }
        report.goal(g);
        report.plot("streams", "Agent streams open on one worker", "streams", open);
        report.note("Each session is a generation whose agent stream stays open (the simulator at the vendor's pace, drawn out to "
            + "10–15 minutes); its cost is what the worker holds for it: the actor, the stream's connection and buffers, the session's "
            + "memory. The peer has no counterpart: a shell holds one stream, and a process per stream costs megabytes, not kilobytes.");
      }
    }
    return report;
  }
}
