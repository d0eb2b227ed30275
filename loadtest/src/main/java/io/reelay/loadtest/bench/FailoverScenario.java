package io.reelay.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import io.reelay.protocol.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Two worker processes share the load; one is stopped with SIGTERM (a rolling deploy), a new one
 * joins, then another is killed with SIGKILL (a lost machine). Measured: how long the sessions stand
 * still after each (the longest pause between two events of any session, against the longest pause
 * in the same span before it), and whether any job was lost or ran twice (every request ends once;
 * the simulator counts no repeated message and no second render submit).
 */
public final class FailoverScenario implements Scenario {

  @Override
  public String name() {
    return "failover";
  }

  @Override
  public String measures() {
    return "two workers, one stopped (SIGTERM) and one killed (kill -9) mid-run: time until their sessions move again; jobs lost "
        + "and duplicated; goals ≤ 3 s and ≤ 15 s, 0 and 0";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    int sessions = bench.count(40, 120);
    int perSession = bench.quick() ? 12 : 30;
    double timeScale = 0.01;
    Duration window = Duration.ofSeconds(bench.quick() ? 20 : 30);
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "1g");
      String workerConf = """
          max-active-requests = 512
          recovery { first-check = 1s, interval = 1s, max-unchanged = 5 }
          render-poll { grid = %dms, margin = 5ms, min-gap = 5ms }
          """.formatted(Math.max(10, (long) (30_000 * timeScale)));
      Fleet.Part a = fleet.worker("worker-a", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
      Fleet.Part b = fleet.worker("worker-b", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
      Thread.sleep(5000); // the group settles on two members

      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics(), true)) {
        List<String> ids = new ArrayList<>();
        for (int k = 0; k < perSession; k++) {
          for (int s = 0; s < sessions; s++) {
            boolean export = k % 3 == 2;
            ids.add(traffic.send("f" + s, export ? Action.EXPORT : Action.GENERATE,
                export ? "export" : "generate a 5-second clip of a harbour at dawn, take " + k));
          }
        }
        traffic.flush();
        long t0 = System.nanoTime();
        awaitFraction(traffic, ids, 0.15, Duration.ofMinutes(5));

        long termAt = System.nanoTime();
        boolean exited = a.stop(Duration.ofSeconds(60));
        Thread.sleep(window.toMillis());
        Pause term = pauses(traffic, sessions, termAt, window, "after SIGTERM");

        fleet.worker("worker-c", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
        Thread.sleep(10_000); // the newcomer takes its share (an incremental rebalance)
        long killAt = System.nanoTime();
        b.kill();
        Thread.sleep(window.toMillis());
        Pause kill = pauses(traffic, sessions, killAt, window, "after kill -9");

        int ended = traffic.awaitAll(ids, Duration.ofMinutes(bench.quick() ? 5 : 15));
        double total = (System.nanoTime() - t0) / 1e9;
        JsonNode stats = Json.read(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(sim.url() + "/_sim/stats")).build(),
            HttpResponse.BodyHandlers.ofString()).body(), JsonNode.class);
        long repeated = stats.path("repeatedMessages").asLong();
        long duplicateRenders = stats.path("duplicateRenderSubmits").asLong();
        long lost = ids.size() - ended;
        long twice = traffic.endedTwice();

        report.setting("load", sessions + " sessions × " + perSession + " requests (two generations, then an export), "
            + ids.size() + " in all, queued up front").setting("workers", "2 processes (-Xmx1g), then 1 + a newcomer")
            .setting("simulator", "own process, time-scale " + timeScale + " (a generation 1–3 s)")
            .setting("consumer group", "classic, cooperative-sticky, session.timeout.ms 10 s (the default)");
        report.figure("requests", ids.size()).figure("ended", ended).figure("completed", traffic.completed(ids))
            .figure("ended twice (different terminal events)", twice)
            .figure("the same terminal event read again", traffic.duplicates() - twice)
            .figure("simulator: repeated agent messages", repeated).figure("simulator: second render submits", duplicateRenders)
            .figure("SIGTERM: worker exited within 60 s", exited).figure("run seconds", total)
            .figure("longest pause before the SIGTERM (s)", term.before()).figure("longest pause before the kill -9 (s)", kill.before());
        report.goal(explain(Goal.atMost("sessions move again after SIGTERM", 3, term.after(), "s"), term, "stop-grace lets the "
            + "requests in hand finish for up to 10 s before the hand-over; a session queued behind one waits for it"))
            .goal(explain(Goal.atMost("sessions move again after kill -9", 15, kill.after(), "s"), kill, "the broker notices a dead "
                + "member only after session.timeout.ms (10 s), then the group rebalances"))
            .goal(Goal.atMost("jobs lost", 0, lost, "requests").because(lost + " requests had no terminal event " + (bench.quick() ? 5 : 15)
                + " min after the start; see " + fleet.dir()))
            .goal(Goal.atMost("jobs duplicated", 0, twice + repeated + duplicateRenders, "jobs")
                .because(twice + " ended twice, " + repeated + " agent messages repeated, " + duplicateRenders + " renders submitted twice"));
        report.plot("pauses", "Longest pause of any session, per second (s)", "s", term.series(), kill.series());
        report.note("A pause is the time between two events of one session (or from the stop to its first event after). A session "
            + "on the survivor moves on at its own pace; the sessions of the worker that went away stand still until their new "
            + "owner resumes them from their snapshots. The longest pause in the same span before the stop is the baseline: a "
            + "generation's own silences. The peer has no counterpart here: a shell that dies loses its video, and one that is "
            + "run again pays for it twice (the seed's flow keeps no state).");
      }
    }
    return report;
  }

  private static Goal explain(Goal g, Pause p, String why) {
    return g.met() ? g : g.because(String.format(Locale.ROOT, "%s (before it, the longest pause was %.1f s)", why, p.before()));
  }

  private static void awaitFraction(Traffic t, List<String> ids, double fraction, Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < until && ids.stream().filter(id -> t.done(id) != null).count() < fraction * ids.size()) {
      Thread.sleep(200);
    }
  }

  /** The longest pause of a session in {@code window} after {@code at}, and in the same span before it. */
  private record Pause(double after, double before, Series series) {}

  private static Pause pauses(Traffic t, int sessions, long at, Duration window, String label) {
    long w = window.toNanos();
    double after = 0;
    double before = 0;
    Series series = new Series(label);
    double[] perSecond = new double[(int) window.toSeconds() + 1];
    for (int s = 0; s < sessions; s++) {
      List<Long> ev = t.sessionEvents("f" + s);
      after = Math.max(after, longestGap(ev, at, at + w, perSecond, at));
      before = Math.max(before, longestGap(ev, at - w, at, null, 0));
    }
    for (int i = 0; i < perSecond.length; i++) {
      series.add(i, perSecond[i]);
    }
    return new Pause(after, before, series);
  }

  /** The longest gap between events in [from, to), counting from {@code from} to the first; 0 when the session had nothing there. */
  private static double longestGap(List<Long> events, long from, long to, double[] perSecond, long origin) {
    long prev = from;
    double longest = 0;
    boolean any = false;
    for (long e : events) {
      if (e < from || e >= to) {
        continue;
      }
      any = true;
      double gap = (e - prev) / 1e9;
      longest = Math.max(longest, gap);
      if (perSecond != null) {
        int sec = (int) ((e - origin) / 1_000_000_000L);
        if (sec >= 0 && sec < perSecond.length) {
          perSecond[sec] = Math.max(perSecond[sec], gap);
        }
      }
      prev = e;
    }
    return any ? longest : 0;
  }
}
