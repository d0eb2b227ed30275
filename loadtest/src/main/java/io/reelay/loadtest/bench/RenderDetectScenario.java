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
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;

/**
 * How soon Reelay tells a user that a render finished, and how many polls it spends on it, against
 * the vendor's fixed schedule (one poll every 30 s). Sessions arrive over a span, each a generation
 * then an export (the generation goes on to export too: the agent says "click Export"), on one
 * worker against the simulator at the vendor's render pace (30–90 s at time-scale 1). The simulator
 * lists every render job with when it completed, when a poll first saw it completed and how many
 * polls it answered ({@code GET /_sim/renders}); the driver reads each request's COMPLETED event and
 * matches it to its render by the download URL. The peer (the seed's curl flow, polling every 30 s
 * scaled) runs at the same time on the same simulator, its renders measured from the same list.
 */
public final class RenderDetectScenario implements Scenario {

  private static final Pattern RENDER_URL = Pattern.compile("/files/render/([^/?#]+)\\.mp4");
  // the peer's render ids: render_<epoch ms>_<pid><random> (seed-flow.sh)
  private static final Pattern PEER_RENDER = Pattern.compile("render_\\d+_\\d+");
  /** Renders the worker sees complete before the measured ones: it learns from them how the backend reports progress. */
  static final int LEARN = 8;
  private static final long GRID_MS = 30_000;

  @Override
  public String name() {
    return "render-detect";
  }

  @Override
  public String measures() {
    return "delay from a render finishing to its COMPLETED event, and polls per render, against the fixed 30 s schedule; goal "
        + "mean ≤ 1 s, no more polls than the schedule";
  }

  /** One render as measured: times in epoch ms; lags in real ms (NaN: not seen or not matched). */
  private record Render(String id, long createdAt, long completedAt, double seenLagMs, double writtenLagMs, double readLagMs,
      int polls, int schedulePolls) {}

  @Override
  public Report run(Bench bench) throws Exception {
    double timeScale = bench.quick() ? 0.2 : 1.0;
    int sessions = bench.count(12, 80);
    int spreadSeconds = bench.seconds(10, 120);
    int peerVideos = bench.quick() ? 6 : 20;
    int peerParallel = bench.quick() ? 6 : 10;
    long grid = Math.round(GRID_MS * timeScale);
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      // generations shortened (what is measured starts at the render); renders at the vendor's 30–90 s
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale) + "timing { generation-min = 4s, generation-max = 12s }\n", "1g");
      SimAdmin admin = new SimAdmin(sim.url());
      // the vendor's schedule and the worker's defaults (margin 500 ms, min-gap 1 s), scaled like the simulator
      String pollConf = "render-poll { grid = %dms, margin = %dms, min-gap = %dms }".formatted(grid, Math.round(500 * timeScale),
          Math.max(1, Math.round(1000 * timeScale)));
      String workerConf = pollConf + "\nrecovery { first-check = %dms, interval = %dms, max-unchanged = 5 }"
          .formatted(Math.round(30_000 * timeScale), Math.round(60_000 * timeScale));
      fleet.worker("worker", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");

      ExecutorService peerThread = Executors.newSingleThreadExecutor();
      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics())) {
        long t0Epoch = System.currentTimeMillis();
        Future<Peer.Result> peer = bench.peer()
            ? peerThread.submit(() -> Peer.run(bench.repoRoot(), sim.url(), "video", peerVideos, peerParallel, timeScale,
                Duration.ofSeconds(Math.round(900 * timeScale) + 60)))
            : null;
        List<String> ids = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int s = 0; s < sessions; s++) {
          LockSupport.parkNanos(t0 + (long) (s * spreadSeconds * 1e9 / sessions) - System.nanoTime());
          ids.add(traffic.send("rd" + s, Action.GENERATE, "generate a 5-second clip of a lighthouse at dusk"));
          ids.add(traffic.send("rd" + s, Action.EXPORT, "export"));
          traffic.flush();
        }
        int ended = traffic.awaitAll(ids, Duration.ofMinutes(bench.quick() ? 4 : 12));
        Peer.Result peerResult = peer == null ? null : peer.get(15, TimeUnit.MINUTES);
        JsonNode renders = admin.renders();

        // Reelay's renders, each matched to the request whose COMPLETED event names it
        Map<String, Traffic.Done> byRender = new HashMap<>();
        int unmatched = 0;
        for (String id : ids) {
          Traffic.Done d = traffic.done(id);
          if (d == null || d.event().state() != RequestState.COMPLETED) {
            continue;
          }
          Event.Result result = d.event().result();
          Matcher m = RENDER_URL.matcher(result == null || result.downloadUrl() == null ? "" : result.downloadUrl());
          if (m.find()) {
            byRender.put(m.group(1), d);
          } else {
            unmatched++;
          }
        }
        List<Render> reelay = new ArrayList<>();
        List<Render> peers = new ArrayList<>();
        for (JsonNode r : renders) {
          if (r.path("completedAt").isNull() || !r.path("status").asText().equals("completed")) {
            continue;
          }
          String id = r.path("id").asText();
          long created = r.path("createdAt").asLong();
          long completed = r.path("completedAt").asLong();
          double seen = r.path("firstSeenCompletedAt").isNull() ? Double.NaN : r.path("firstSeenCompletedAt").asLong() - completed;
          int schedule = (int) Math.ceil((completed - created) / (double) grid);
          Traffic.Done d = byRender.get(id);
          if (d != null) {
            reelay.add(new Render(id, created, completed, seen, d.event().at().toEpochMilli() - completed,
                Traffic.epochMillis(d.arrivedNanos()) - completed, r.path("polls").asInt(), schedule));
          } else if (PEER_RENDER.matcher(id).matches()) {
            peers.add(new Render(id, created, completed, seen, Double.NaN, Double.NaN, r.path("polls").asInt(), schedule));
          }
        }
        reelay.sort(Comparator.comparingLong(Render::completedAt));
        peers.sort(Comparator.comparingLong(Render::completedAt));

        // measured: the renders submitted after the worker saw LEARN renders complete (as in render-polling.md)
        List<Render> measured = reelay;
        long learnedAt = -1;
        List<Long> seenAt = reelay.stream().filter(r -> !Double.isNaN(r.seenLagMs()))
            .map(r -> r.completedAt() + (long) r.seenLagMs()).sorted().toList();
        if (seenAt.size() > LEARN) {
          long at = seenAt.get(LEARN - 1);
          List<Render> after = reelay.stream().filter(r -> r.createdAt() > at).toList();
          if (!after.isEmpty()) {
            measured = after;
            learnedAt = at;
          }
        }

        double ms2s = 1 / (1000 * timeScale); // real ms → backend seconds
        double readLag = mean(measured, Render::readLagMs) * ms2s;
        double seenLag = mean(measured, Render::seenLagMs) * ms2s;
        double writtenLag = mean(measured, Render::writtenLagMs) * ms2s;
        double polls = mean(measured, r -> r.polls());
        double schedule = mean(measured, r -> r.schedulePolls());
        long overBudget = measured.stream().filter(r -> r.polls() > r.schedulePolls()).count();
        double peerLag = mean(peers, Render::seenLagMs) * ms2s;
        double peerPolls = mean(peers, r -> r.polls());

        report.setting("time-scale", timeScale + " (figures in backend seconds: real ones ÷ " + timeScale + ")")
            .setting("load", sessions + " sessions arriving over " + spreadSeconds + " s, each a generation (which exports too: the "
                + "agent says \"click Export\") then an export: " + ids.size() + " requests")
            .setting("simulator", "own process, profile shared; renders 30–90 s, generations shortened to 4–12 s (backend time)")
            .setting("worker", "one process, -Xmx1g; " + pollConf)
            .setting("measured", measured == reelay ? "every render (too few to leave out the first " + LEARN + ")"
                : "the " + measured.size() + " renders submitted after the worker had seen " + LEARN + " complete (it learns from "
                    + "them whether the backend's progress stops at 95 %)")
            .setting("peer", bench.peer() ? peerVideos + " videos, " + peerParallel + " shells at once, at the same time as the load, "
                + "polling every " + grid + " ms (30 s scaled)" : "not run");
        report.figure("requests", ids.size()).figure("requests ended", ended).figure("completed", traffic.completed(ids))
            .figure("completed without a render URL", unmatched)
            .figure("renders: Reelay's", reelay.size()).figure("renders: measured", measured.size())
            .figure("renders: the peer's", peers.size())
            .figure("render length, mean backend s", mean(measured, r -> r.completedAt() - r.createdAt()) * ms2s)
            .figure("mean delay, render finished → a poll saw it, backend s", seenLag)
            .figure("mean delay, render finished → COMPLETED event written, backend s", writtenLag)
            .figure("mean delay, render finished → COMPLETED event read, every render, backend s",
                mean(reelay, Render::readLagMs) * ms2s)
            .figure("polls per render, every render", mean(reelay, r -> r.polls()))
            .figure("the schedule's polls per render, every render", mean(reelay, r -> r.schedulePolls()))
            .figure("measured renders polled more often than the schedule would", overBudget)
            .figure("render polls by Reelay, measured renders", measured.stream().mapToInt(Render::polls).sum())
            .figure("the schedule's polls for them", measured.stream().mapToInt(Render::schedulePolls).sum());
        report.latency("Reelay: render finished → COMPLETED event read (backend ms)", histogram(measured, Render::readLagMs, timeScale))
            .latency("Reelay: render finished → a poll saw it (backend ms)", histogram(measured, Render::seenLagMs, timeScale));

        Goal delay = Goal.atMost("mean delay, render finished → its COMPLETED event read", 1, readLag, "s");
        Goal pollGoal = Goal.atMost("polls per render (target: the 30 s schedule's for the same renders)", round2(schedule), polls,
            "polls");
        if (peerResult != null) {
          report.latency("peer: render finished → its poll saw it (backend ms)", histogram(peers, Render::seenLagMs, timeScale));
          report.figure("peer: videos completed", peerResult.completed() + " of " + peerResult.count())
              .figure("peer: failed", peerResult.failures().toString())
              .figure("peer: polls per render, as its shells counted", peerResult.pollsPerRender())
              .figure("peer: the schedule's polls per render", mean(peers, r -> r.schedulePolls()));
          delay = delay.withPeer(peerLag);
          pollGoal = pollGoal.withPeer(peerPolls);
        }
        if (!delay.met()) {
          delay = delay.because(String.format(Locale.ROOT, "of the %.2f s, %.2f s pass before a poll sees the render done (the "
              + "poller aims %d ms past the finish it predicts from the progress; a look that comes early waits for the next poll "
              + "the budget allows), %.2f s from there to the COMPLETED event written (the simulated latency of the poll's answer, "
              + "50–250 ms, then the worker) and %.2f s from there to the event read from Kafka%s", readLag, seenLag,
              Math.round(500 * timeScale), writtenLag - seenLag, readLag - writtenLag,
              timeScale < 1 ? String.format(Locale.ROOT, "; at time-scale %s every fixed delay in real time counts %.0f times",
                  timeScale, 1 / timeScale) : ""));
        }
        if (!pollGoal.met()) {
          pollGoal = pollGoal.because(String.format(Locale.ROOT, "%d of %d renders took more polls than the schedule would: a "
              + "look at the predicted finish came before it, and the next poll then waited until the budget allowed one",
              overBudget, measured.size()));
        }
        report.goal(delay).goal(pollGoal);

        Series reelayRead = new Series("Reelay: COMPLETED event read");
        Series reelaySeen = new Series("Reelay: a poll saw it");
        Series peerSeen = new Series("peer: its poll saw it");
        for (Render r : measured) {
          double x = (r.completedAt() - t0Epoch) / 1000.0;
          reelayRead.add(x, r.readLagMs() * ms2s);
          if (!Double.isNaN(r.seenLagMs())) {
            reelaySeen.add(x, r.seenLagMs() * ms2s);
          }
        }
        for (Render r : peers) {
          if (!Double.isNaN(r.seenLagMs())) {
            peerSeen.add((r.completedAt() - t0Epoch) / 1000.0, r.seenLagMs() * ms2s);
          }
        }
        report.scatter("lag", "Delay from each render's finish (by when it finished), backend seconds", "backend seconds", reelayRead,
            reelaySeen, peerSeen);
        report.note("*Delay* = when the COMPLETED event of the request was read from `reelay.completions` minus the render job's "
            + "`completedAt` in the simulator (both clocks of this machine), in backend seconds. *Polls* are the simulator's count of "
            + "the polls it answered for the job; *the schedule's* are ⌈render time ÷ 30 s⌉, what polling every 30 s from the "
            + "submit makes for the same job. The peer is the seed's curl flow, which does poll every 30 s (scaled); it has no event, "
            + "so its delay is until its poll saw the render done. Earlier, in process: `render-polling.md` (RenderPoller "
            + "p50 1.1 s at time-scale 1).");
        if (learnedAt > 0) {
          report.note(String.format(Locale.ROOT, "The first %d renders to complete (seen %.0f s into the run) and every render "
              + "submitted before that are left out of the goals, as in the earlier measurement: until then the worker does not know "
              + "whether the backend's progress stops at 95 %% or runs to 100 %%; every render is in the figures.", LEARN,
              (learnedAt - t0Epoch) / 1000.0));
        }
      } finally {
        peerThread.shutdownNow();
      }
    }
    return report;
  }

  private static double mean(List<Render> renders, ToDoubleFunction<Render> f) {
    return renders.stream().mapToDouble(f).filter(v -> !Double.isNaN(v)).average().orElse(Double.NaN);
  }

  private static double round2(double v) {
    return Math.round(v * 100) / 100.0;
  }

  /** Real ms → backend ms, in a histogram. */
  private static Histogram histogram(List<Render> renders, ToDoubleFunction<Render> f, double timeScale) {
    Histogram h = new Histogram(3_600_000, 3);
    renders.stream().mapToDouble(f).filter(v -> !Double.isNaN(v)).forEach(v -> h.recordValue(Math.max(0, Math.round(v / timeScale))));
    return h;
  }
}
