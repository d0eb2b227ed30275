package io.reelay.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.loadtest.peer.Peer;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A flaky backend and a lost machine at once: sessions each asking for a generation and then its
 * export, all queued up front, under the fault mix of the flaky-backend issue (429s, 5xx, resets,
 * revoked tokens, silent edits, lost answers), on two workers, one of them killed with SIGKILL when
 * 30 % of the requests have ended. Every request must end, none charged twice or rendered twice,
 * and every FAILED must say why (the simulator counts the charges and render submits).
 */
public final class ChaosScenario implements Scenario {

  /** The mix of {@code loadtest/reports/flaky-backend.md}. */
  static final String FAULTS = "{\"seed\":42,\"rate-limit-429\":0.05,\"server-error-5xx\":0.08,\"connection-reset\":0.04,"
      + "\"token-revoked\":0.03,\"silent-edit\":0.3,\"lost-answer\":0.05}";
  private static final double KILL_AT = 0.3;

  @Override
  public String name() {
    return "chaos";
  }

  @Override
  public String measures() {
    return "1,000 requests (generation + export per session) under the flaky-backend fault mix, two workers, one killed (kill -9): "
        + "goals 1,000/1,000 terminal, 0 charged twice, 0 duplicate renders, every FAILED with a reason";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    double timeScale = 0.002;
    int requests = 2 * (bench.count(200, 1000) / 2);
    int sessions = requests / 2;
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    // the worker settings of the flaky-backend run: the simulator's pace for recovery checks and render polls
    String workerConf = """
        max-active-requests = 64
        session-idle-timeout = 10s
        recovery { first-check = 1s, interval = 1s, max-unchanged = 5 }
        render-poll { grid = %dms, margin = 5ms, min-gap = 5ms }
        """.formatted(Math.max(10, Math.round(30_000 * timeScale)));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "1g");
      SimAdmin admin = new SimAdmin(sim.url());
      Fleet.Part a = fleet.worker("worker-a", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
      fleet.worker("worker-b", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
      if (!Fleet.awaitGroup(kafka, 2, Duration.ofMinutes(2))) {
        throw new IllegalStateException("the two workers' group did not settle within 2 min; see " + fleet.dir());
      }
      admin.faults(FAULTS);

      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics(), true)) {
        List<String> ids = new ArrayList<>(requests);
        for (int nth = 0; nth < 2; nth++) {
          for (int s = 0; s < sessions; s++) {
            ids.add(nth == 0
                ? traffic.send("c" + s, Action.GENERATE, "generate a 5-second clip of a harbour at night")
                : traffic.send("c" + s, Action.EXPORT, "export"));
          }
        }
        traffic.flush();
        long t0 = System.nanoTime();
        Series endedPerSecond = new Series("requests ended per second");
        Series failedPerSecond = new Series("of them FAILED");
        Series kill = new Series("worker-a killed (kill -9)");
        long until = t0 + Duration.ofMinutes(bench.quick() ? 5 : 12).toNanos();
        int ended = 0;
        int lastEnded = 0;
        long lastFailed = 0;
        double killedAt = Double.NaN;
        long killEpoch = Long.MAX_VALUE;
        int endedAtKill = 0;
        while (ended < requests && System.nanoTime() < until) {
          Thread.sleep(500);
          double at = (System.nanoTime() - t0) / 1e9;
          List<Traffic.Done> done = ids.stream().map(traffic::done).filter(d -> d != null).toList();
          ended = done.size();
          long failed = done.stream().filter(d -> d.event().state() == RequestState.FAILED).count();
          endedPerSecond.add(at, (ended - lastEnded) * 2);
          failedPerSecond.add(at, (failed - lastFailed) * 2);
          lastEnded = ended;
          lastFailed = failed;
          if (Double.isNaN(killedAt) && ended >= KILL_AT * requests) {
            killEpoch = System.currentTimeMillis();
            a.kill();
            killedAt = (System.nanoTime() - t0) / 1e9;
            endedAtKill = ended;
          }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double peak = endedPerSecond.points().stream().mapToDouble(Series.Point::value).max().orElse(1);
        if (!Double.isNaN(killedAt)) {
          kill.add(killedAt, 0).add(killedAt, peak);
        }
        JsonNode stats = admin.stats();

        Map<RequestState, Integer> byState = new EnumMap<>(RequestState.class);
        Map<String, Integer> failedByCode = new TreeMap<>();
        List<String> withoutReason = new ArrayList<>();
        for (String id : ids) {
          Traffic.Done d = traffic.done(id);
          if (d == null) {
            continue;
          }
          Event e = d.event();
          byState.merge(e.state(), 1, Integer::sum);
          if (e.state() == RequestState.FAILED) {
            Event.ErrorInfo err = e.error();
            if (err == null || blank(err.code()) || blank(err.reason())) {
              withoutReason.add(id + " (\"" + e.message() + "\")");
            } else {
              failedByCode.merge(err.code(), 1, Integer::sum);
            }
          }
        }
        // what the kill did: the requests under way then, and how their new owner took them up
        long killedEpoch = killEpoch;
        Map<String, Integer> resumed = new TreeMap<>();
        List<String> suspects = new ArrayList<>();
        int underWay = 0;
        for (String id : ids) {
          List<Event> events = traffic.events(id);
          Traffic.Done d = traffic.done(id);
          boolean begun = events.stream().anyMatch(e -> e.at().toEpochMilli() < killedEpoch);
          if (!begun || (d != null && d.event().at().toEpochMilli() < killedEpoch)) {
            continue;
          }
          underWay++;
          for (Event e : events) {
            String m = e.message() == null ? "" : e.message();
            if (m.startsWith("Resumed")) {
              resumed.merge(m.replaceAll("\\. Checking the result in .*", ""), 1, Integer::sum);
            }
            if (m.contains("once more") || m.contains("starts over")) {
              suspects.add(id);
              break;
            }
          }
        }
        long chargedTwice = stats.path("chargedTwice").asLong();
        long duplicateRenders = stats.path("duplicateRenderSubmits").asLong();
        long twice = traffic.endedTwice();

        report.setting("load", sessions + " sessions × (a generation, then its export) = " + requests + " requests, queued up front")
            .setting("fault mix", FAULTS)
            .setting("workers", "2 processes (-Xmx1g), max-active-requests 64, recovery checks every 1 s (5 unchanged → "
                + "give up), renders polled on a " + Math.round(30_000 * timeScale) + " ms grid; worker-a killed (SIGKILL) once "
                + Math.round(KILL_AT * 100) + " % of the requests had ended")
            .setting("simulator", "own process, time-scale " + timeScale + ", profile shared");
        report.figure("requests", requests).figure("ended", ended).figure("by state", byState.toString())
            .figure("FAILED by code", failedByCode.toString())
            .figure("faults injected", stats.path("faultsInjected").toString())
            .figure("worker-a killed at s", killedAt).figure("requests ended when it was killed", endedAtKill)
            .figure("run seconds (until the last ended)", seconds)
            .figure("simulator: messages", stats.path("messages").asLong())
            .figure("simulator: repeated messages", stats.path("repeatedMessages").asLong())
            .figure("simulator: render submits", stats.path("renderSubmits").asLong())
            .figure("simulator: charged twice", chargedTwice).figure("simulator: duplicate render submits", duplicateRenders)
            .figure("requests under way when worker-a was killed (on either worker)", underWay)
            .figure("resumed by the new owner, by how", resumed.toString())
            .figure("requests ended twice (different terminal events)", twice)
            .figure("the same terminal event read again", traffic.duplicates() - twice);

        Goal terminal = Goal.atLeast("requests with a terminal event", requests, ended, "requests");
        Goal charged = Goal.atMost("charged twice", 0, chargedTwice, "messages");
        Goal renders = Goal.atMost("duplicate render submits", 0, duplicateRenders, "renders");
        Goal reasons = Goal.atMost("FAILED events without a reason (code and message)", 0, withoutReason.size(), "events");
        if (bench.peer()) {
          // the seed's flow under the same mix, after Reelay's run (its charges and renders counted apart)
          int videos = bench.quick() ? 10 : 40;
          Peer.Result peer = Peer.run(bench.repoRoot(), sim.url(), "video", videos, 16, timeScale, Duration.ofMinutes(3));
          JsonNode after = admin.stats();
          long peerCharged = after.path("chargedTwice").asLong() - chargedTwice;
          long peerRenders = after.path("duplicateRenderSubmits").asLong() - duplicateRenders;
          report.figure("peer: videos completed", peer.completed() + " of " + peer.count())
              .figure("peer: failed, by where", peer.failures().toString())
              .figure("completed: Reelay", String.format(Locale.ROOT, "%.1f %%", 100.0 * byState.getOrDefault(RequestState.COMPLETED, 0)
                  / requests))
              .figure("completed: the peer", String.format(Locale.ROOT, "%.1f %%", 100.0 * peer.completed() / Math.max(1, videos)));
          charged = charged.withPeer(peerCharged);
          renders = renders.withPeer(peerRenders);
        }
        String logs = fleet.dir().toString();
        report.goal(terminal.met() ? terminal : terminal.because((requests - ended) + " requests had no terminal event "
                + (bench.quick() ? 5 : 12) + " min after the start; see the workers' logs in " + logs))
            .goal(charged.met() ? charged : charged.because(chargedTwice + " charged messages repeated the text of an earlier charged "
                + "message of their session: a generation was sent again although the backend had taken it; see " + logs))
            .goal(renders.met() ? renders : renders.because(duplicateRenders + " render ids were submitted again (an export resumed "
                + "after the kill submitted the render its snapshot did not yet name, or a submit retried after the backend had "
                + "taken it); see " + logs))
            .goal(reasons.met() ? reasons : reasons.because("e.g. " + String.join(", ", withoutReason.subList(0,
                Math.min(5, withoutReason.size())))));
        if (chargedTwice > 0 || duplicateRenders > 0) {
          // the events of the generations that a message might have been sent twice for, to see where
          StringBuilder stories = new StringBuilder("What the requests under way at the kill that started over or sent their "
              + "message once more went through (a request's events in order: seq, state, phase, message, error code):\n\n```\n");
          for (String id : suspects.subList(0, Math.min(6, suspects.size()))) {
            stories.append(id).append('\n');
            for (Event e : traffic.events(id)) {
              stories.append(String.format(Locale.ROOT, "  %s #%d %s %s %s%s%n", e.at(), e.seq(), e.state(), e.phase(), e.message(),
                  e.error() == null ? "" : " [" + e.error().code() + "]"));
            }
          }
          report.note(suspects.isEmpty() ? "No request under way at the kill started over or sent its message once more."
              : stories.append("```").toString());
        }
        report.plot("ended", "Requests ended per second under the fault mix; worker-a killed", "requests/s", endedPerSecond,
            failedPerSecond, kill);
        report.note("The fault mix is the one of `flaky-backend.md` (a fraction of calls each; `lost-answer` of messages: the "
            + "backend takes and runs the message, the client gets a 502 or a stream cut before any text), posted to the simulator's "
            + "`POST /_sim/faults` before the first request. *Charged twice* is the simulator's count of charged messages whose text "
            + "an earlier charged message of the same session had; *duplicate render submits*, submits of a render id it already had. "
            + "A FAILED event has a reason when its `error` carries a code and a message.");
        if (bench.peer()) {
          report.note("The peer is the seed's curl flow for a video under the same mix, after Reelay's run: it never sends a "
              + "message twice (so it cannot be charged twice) and retries a refused export once under a new id; a shell that "
              + "meets a fault the skill has no rule for gives up, which is what its completed share shows.");
        }
      }
    }
    return report;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
