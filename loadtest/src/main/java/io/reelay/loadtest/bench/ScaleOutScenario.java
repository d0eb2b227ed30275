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
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * One worker against two on a latency-bound load: generations that each wait 1–3 s on the backend
 * (and then export, as the agent asks), every worker holding at most the same {@code
 * max-active-requests}, so one worker's rate is bounded by concurrency ÷ latency, not by CPU. The
 * same backlog is drained by one worker on fresh topics, then by two on other fresh topics (same
 * broker, same simulator); the rate is taken over the middle of each drain (from 10 % to 90 % of
 * the requests ended), so start-up and the last stragglers do not count.
 */
public final class ScaleOutScenario implements Scenario {

  // small enough that two workers' share of the 2 cores stays well below what they have (each request costs CPU)
  static final int MAX_ACTIVE = 8;

  @Override
  public String name() {
    return "scale-out";
  }

  @Override
  public String measures() {
    return "one worker against two on a latency-bound load (generations of 1–3 s, the same max-active-requests each); goal "
        + "≥ 1.8× the rate with two";
  }

  /** What one drain did: its steady rate, overall rate, per-second completions and requests in hand per worker. */
  private record Drain(int workers, int requests, int ended, long completed, double steadyRate, double overallRate, double seconds,
      Series perSecond, List<Series> inHand, List<Double> endedPerWorker, String cpu, double cores) {}

  @Override
  public Report run(Bench bench) throws Exception {
    double timeScale = 0.01;
    int requests = bench.count(64, 400);
    int sessions = Math.max(4 * MAX_ACTIVE, requests / 3);
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    String workerConf = """
        max-active-requests = %d
        render-poll { grid = %dms, margin = 5ms, min-gap = 5ms }
        recovery { first-check = 1s, interval = 1s, max-unchanged = 5 }
        """.formatted(MAX_ACTIVE, Math.round(30_000 * timeScale));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      String bootstrap = fleet.kafka();
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "1g");
      Drain one = drain(bench, fleet, bootstrap, sim, 1, requests, sessions, workerConf, report);
      Drain two = drain(bench, fleet, bootstrap, sim, 2, requests, sessions, workerConf, report);
      double ratio = one.steadyRate() == 0 ? Double.NaN : two.steadyRate() / one.steadyRate();

      report.setting("load", requests + " generations per drain (\"generate a 5-second clip of …\"), over " + sessions
              + " sessions, queued up front; each generation also exports (the agent says \"click Export\")")
          .setting("workers", "-Xmx1g each, max-active-requests " + MAX_ACTIVE + " each; one, then two on fresh topics "
              + "(12 partitions, a fresh group)")
          .setting("simulator", "own process, time-scale " + timeScale + " (a generation 1–3 s, a render 0.3–0.9 s), profile shared")
          .setting("rate", "requests ended per second from the 10 % to the 90 % point of each drain");
      for (Drain d : List.of(one, two)) {
        String w = d.workers() == 1 ? "one worker" : "two workers";
        report.figure(w + ": requests/s (steady)", d.steadyRate()).figure(w + ": requests/s (whole drain)", d.overallRate())
            .figure(w + ": ended", d.ended() + " of " + d.requests()).figure(w + ": completed", d.completed())
            .figure(w + ": drain seconds", d.seconds())
            .figure(w + ": seconds per request implied (" + d.workers() * MAX_ACTIVE + " in hand ÷ rate)",
                d.workers() * MAX_ACTIVE / d.steadyRate())
            .figure(w + ": cores used", d.cpu());
      }
      report.figure("two workers: requests each ended", two.endedPerWorker().stream().map(v -> String.format(Locale.ROOT, "%.0f", v))
          .collect(Collectors.joining(" and ")));

      Goal g = Goal.atLeast("rate with two workers ÷ rate with one", 1.8, ratio, "×");
      if (bench.peer()) {
        // the peer has no worker to add: what it scales is shells; twice the shells is its scale-out
        int videos = bench.quick() ? 8 : 24;
        Peer.Result p1 = Peer.run(bench.repoRoot(), sim.url(), "video", videos, MAX_ACTIVE, timeScale, Duration.ofMinutes(3));
        Peer.Result p2 = Peer.run(bench.repoRoot(), sim.url(), "video", 2 * videos, 2 * MAX_ACTIVE, timeScale, Duration.ofMinutes(3));
        report.figure("peer: " + MAX_ACTIVE + " shells, videos/s", p1.perSecond())
            .figure("peer: " + 2 * MAX_ACTIVE + " shells, videos/s", p2.perSecond())
            .figure("peer: completed", (p1.completed() + p2.completed()) + " of " + (p1.count() + p2.count()))
            .figure("peer: failed", failures(p1, p2))
            .latency("peer: one video with " + MAX_ACTIVE + " shells, end to end", p1.latencyMs())
            .latency("peer: one video with " + 2 * MAX_ACTIVE + " shells, end to end", p2.latencyMs());
        g = g.withPeer(p1.perSecond() == 0 ? Double.NaN : p2.perSecond() / p1.perSecond());
      }
      if (!g.met()) {
        double perRequest1 = MAX_ACTIVE / one.steadyRate();
        double perRequest2 = 2 * MAX_ACTIVE / two.steadyRate();
        g = g.because(String.format(Locale.ROOT, "each request took longer with twice as many in flight: %.2f s in hand with two "
                + "workers against %.2f s with one (in-hand ÷ rate), on %d cores that were %.1f busy with two (%s) against %.1f "
                + "with one: the simulator, the broker and the workers share them, so the backend's latency grows with the load "
                + "it serves; the two workers ended %s requests", perRequest2, perRequest1, Runtime.getRuntime().availableProcessors(),
            two.cores(), two.cpu(), one.cores(), two.endedPerWorker().stream().map(v -> String.format(Locale.ROOT, "%.0f", v))
                .collect(Collectors.joining(" and "))));
      }
      report.goal(g);
      report.plot("rate", "Requests ended per second: one worker, then two (each drain from its start)", "requests/s",
          one.perSecond(), two.perSecond());
      List<Series> inHand = new ArrayList<>(one.inHand());
      inHand.addAll(two.inHand());
      report.plot("in-hand", "Requests in hand per worker (max-active-requests " + MAX_ACTIVE + ")", "requests",
          inHand.toArray(Series[]::new));
      report.note("Each worker holds at most " + MAX_ACTIVE + " requests (`max-active-requests`) and each request waits seconds on "
          + "the backend, so one worker ends about " + MAX_ACTIVE + " ÷ (seconds per request) a second whatever its CPU; a second "
          + "worker in the same group takes half the partitions, and with them half the sessions, so the fleet holds twice as many. "
          + "The in-hand plot shows each worker full (at " + MAX_ACTIVE + ") while its backlog lasts.");
      if (bench.peer()) {
        report.note("The peer has no worker to add: one shell per video, its rate is the shells a person runs at once ÷ the time a "
            + "video takes. Its figure beside the goal is the same ratio for " + 2 * MAX_ACTIVE + " shells against " + MAX_ACTIVE
            + " (bash, curl and jq forks cost CPU on the same cores).");
      }
    }
    return report;
  }

  private Drain drain(Bench bench, Fleet fleet, String bootstrap, Fleet.Part sim, int workers, int requests, int sessions,
      String workerConf, Report report) throws Exception {
    Fleet.Kafka kafka = fleet.topics(bootstrap, name() + "-" + workers, 12);
    List<Fleet.Part> ws = new ArrayList<>();
    for (int i = 0; i < workers; i++) {
      ws.add(fleet.worker("worker-" + workers + (char) ('a' + i), kafka, sim.url(), workerConf, "calls-per-second = 0", "1g"));
    }
    if (!Fleet.awaitGroup(kafka, workers, Duration.ofMinutes(2))) {
      throw new IllegalStateException("the group of " + workers + " workers did not settle within 2 min; see " + fleet.dir());
    }
    String label = workers == 1 ? "one worker" : "two workers";
    Series perSecond = new Series(label);
    List<Series> inHand = new ArrayList<>();
    for (Fleet.Part w : ws) {
      inHand.add(new Series(label + ": " + w.name()));
    }
    try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics())) {
      CpuShare cpu = new CpuShare(fleet);
      List<String> ids = new ArrayList<>(requests);
      for (int i = 0; i < requests; i++) {
        String session = "so" + workers + "-" + (i % sessions);
        ids.add(traffic.send(session, Action.GENERATE, "generate a 5-second clip of a harbour at dawn, take " + i / sessions));
      }
      traffic.flush();
      long t0 = System.nanoTime();
      long until = t0 + Duration.ofMinutes(bench.quick() ? 4 : 10).toNanos();
      int ended = 0;
      int last = 0;
      while (ended < requests && System.nanoTime() < until) {
        Thread.sleep(1000);
        double at = (System.nanoTime() - t0) / 1e9;
        ended = (int) ids.stream().filter(id -> traffic.done(id) != null).count();
        perSecond.add(at, ended - last);
        last = ended;
        for (int i = 0; i < ws.size(); i++) {
          inHand.get(i).add(at, Metrics.sum(Metrics.scrape(ws.get(i).url()), "reelay_worker_requests_in_hand", ""));
        }
      }
      long[] arrivals = ids.stream().map(traffic::done).filter(d -> d != null).mapToLong(Traffic.Done::arrivedNanos).sorted()
          .toArray();
      double seconds = arrivals.length == 0 ? Double.NaN : (arrivals[arrivals.length - 1] - t0) / 1e9;
      cpu.report(report, seconds, (workers == 1 ? "one worker" : "two workers") + ": cores used by ");
      List<Double> endedPerWorker = new ArrayList<>();
      for (Fleet.Part w : ws) {
        endedPerWorker.add(Metrics.sum(Metrics.scrape(w.url()), "reelay_worker_requests_total", ""));
      }
      Drain d = new Drain(workers, requests, ended, traffic.completed(ids), steady(arrivals), arrivals.length / seconds, seconds,
          perSecond, inHand, endedPerWorker, cpu.summary(), cpu.total());
      for (Fleet.Part w : ws) {
        if (!w.stop(Duration.ofSeconds(30))) {
          w.kill();
        }
      }
      return d;
    }
  }

  /** The failures of both peer runs, by where, added up. */
  private static String failures(Peer.Result a, Peer.Result b) {
    Map<String, Integer> all = new TreeMap<>(a.failures());
    b.failures().forEach((k, v) -> all.merge(k, v, Integer::sum));
    return all.toString();
  }

  /** Requests ended per second between the 10 % and the 90 % point of the arrivals (sorted nanoTimes). */
  private static double steady(long[] arrivals) {
    if (arrivals.length < 10) {
      return Double.NaN;
    }
    int from = arrivals.length / 10;
    int to = arrivals.length * 9 / 10;
    return (to - from) / ((arrivals[to] - arrivals[from]) / 1e9);
  }
}
