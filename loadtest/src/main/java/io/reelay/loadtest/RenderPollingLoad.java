package io.reelay.loadtest;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.nemo.RenderPoller;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * Render polling, measured against the simulator: the vendor's fixed schedule (a poll every 30 s)
 * against {@link RenderPoller}, on the same kind of renders. Reports, per strategy, how long after
 * the job finished its completion was seen (lag) and how many polls it took, in real-backend
 * seconds (simulated durations divided by the time scale).
 *
 * <p>Usage: {@code java -cp "$(cat loadtest/target/classpath.txt):loadtest/target/classes"
 * io.reelay.loadtest.RenderPollingLoad [renders=40] [time-scale=0.05] [learn=0]}: with {@code learn}
 * renders run first, the pollers know the backend's progress convention when the measured ones start.
 */
public final class RenderPollingLoad {

  private static final boolean TRACE = Boolean.getBoolean("trace");

  private record Outcome(double lagSeconds, int polls, double renderSeconds) {}

  public static void main(String[] args) throws Exception {
    int renders = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    double ts = args.length > 1 ? Double.parseDouble(args[1]) : 0.05;
    int learn = args.length > 2 ? Integer.parseInt(args[2]) : 0;
    Config config = ConfigFactory.parseMap(Map.of("nemo-sim.port", 0, "nemo-sim.time-scale", ts,
            "nemo-sim.credits-per-token", 100000, "reelay.nemo.calls-per-second", 0))
        .withFallback(ConfigFactory.load()).resolve();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "render-polling-load", config);
    NemoSim sim = NemoSim.start(system, SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
    NemoClient client = new NemoClient(system, NemoSettings.from(config.getConfig("reelay.nemo")).withBaseUrl(sim.baseUrl()));
    try {
      AnonymousToken t = client.anonymousToken("load-" + UUID.randomUUID()).toCompletableFuture().get(30, TimeUnit.SECONDS);
      BackendSession s = client.createSession(t.token(), "en").toCompletableFuture().get(30, TimeUnit.SECONDS);
      client.runSse(t.token(), s.sessionId(), "generate a 5-second clip of a lighthouse").runWith(Sink.ignore(), system)
          .toCompletableFuture().get(5, TimeUnit.MINUTES);
      SessionState state = client.state(t.token(), s.sessionId()).toCompletableFuture().get(30, TimeUnit.SECONDS);
      // warm the simulator's MP4 cache, so every measured render finishes on the simulator's own clock
      run(client, t, s, state, "warm", false, ts).get(5, TimeUnit.MINUTES);

      Duration grid = Duration.ofMillis((long) (30_000 * ts));
      // a worker learns its backend's progress convention from its first renders (RenderPoller.Convention)
      List<CompletableFuture<Outcome>> learning = new ArrayList<>();
      for (int i = 0; i < learn; i++) {
        learning.add(run(client, t, s, state, "learn-" + i, true, ts));
      }
      for (CompletableFuture<Outcome> f : learning) {
        f.get(10, TimeUnit.MINUTES);
      }
      System.out.println("after " + learn + " renders: " + client.renderConvention());
      List<CompletableFuture<Outcome>> fixed = new ArrayList<>();
      List<CompletableFuture<Outcome>> predicted = new ArrayList<>();
      for (int i = 0; i < renders; i++) {
        fixed.add(run(client, t, s, state, "fixed-" + i, false, ts));
        predicted.add(run(client, t, s, state, "pred-" + i, true, ts));
      }
      System.out.printf(Locale.ROOT, "render polling, %d renders per strategy, time-scale %s (grid %d ms simulated)%n", renders, ts, grid.toMillis());
      report("vendor schedule (every 30 s)", fixed, ts);
      report("RenderPoller", predicted, ts);
    } finally {
      sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
      system.terminate();
    }
  }

  private static CompletableFuture<Outcome> run(
      NemoClient client, AnonymousToken t, BackendSession s, SessionState state, String name, boolean predict, double ts) {
    String id = "render_" + name + "_" + UUID.randomUUID();
    Duration grid = Duration.ofMillis((long) (30_000 * ts));
    RenderPoller poller = new RenderPoller(grid, Duration.ofMillis((long) (500 * ts)), Duration.ofMillis((long) (1000 * ts)),
        client.renderConvention());
    long submitted = System.currentTimeMillis();
    return client.submitRender(t.token(), id, s.sessionId(), state.draft(), "mp4", "high").toCompletableFuture()
        .thenCompose(r -> {
          poller.submitted(r.progress());
          return poll(client, t, id, poller, predict, grid, submitted, predict ? poller.first() : grid, 0);
        });
  }

  private static CompletableFuture<Outcome> poll(NemoClient client, AnonymousToken t, String id, RenderPoller poller,
      boolean predict, Duration grid, long submitted, Duration wait, int polls) {
    long[] sent = new long[1];
    return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(wait.toMillis(), TimeUnit.MILLISECONDS))
        .thenCompose(x -> {
          sent[0] = System.currentTimeMillis();
          return client.pollRender(t.token(), id).toCompletableFuture();
        })
        .thenCompose(job -> {
          long now = System.currentTimeMillis();
          long answered = (sent[0] + now) / 2; // when the backend answered, about (as the worker reckons it)
          if (!job.isRunning()) {
            if (predict) {
              poller.completed(Duration.ofMillis(answered - submitted));
            }
            long done = job.completedAt() != null ? job.completedAt() : now;
            return CompletableFuture.completedFuture(new Outcome((now - done) / 1000.0, polls + 1, (done - submitted) / 1000.0));
          }
          Duration next = predict ? poller.next(Duration.ofMillis(answered - submitted), job.progress()) : grid;
          if (TRACE) {
            System.out.printf(Locale.ROOT, "%s t=%d progress=%s next=%d%n", id.substring(0, 12), now - submitted, job.progress(), next.toMillis());
          }
          return poll(client, t, id, poller, predict, grid, submitted, next, polls + 1);
        });
  }

  private static void report(String name, List<CompletableFuture<Outcome>> outcomes, double ts) throws Exception {
    Histogram lag = new Histogram(3);
    long polls = 0;
    int maxPolls = 0;
    double renderSum = 0;
    for (CompletableFuture<Outcome> f : outcomes) {
      Outcome o = f.get(10, TimeUnit.MINUTES);
      lag.recordValue(Math.max(0, Math.round(o.lagSeconds() / ts * 1000)));
      polls += o.polls();
      maxPolls = Math.max(maxPolls, o.polls());
      renderSum += o.renderSeconds() / ts;
    }
    int n = outcomes.size();
    System.out.printf(Locale.ROOT, "%-30s renders %d (mean %.0f s) | lag p50 %.1f s, p95 %.1f s, max %.1f s | polls mean %.2f, max %d%n",
        name, n, renderSum / n, lag.getValueAtPercentile(50) / 1000.0, lag.getValueAtPercentile(95) / 1000.0,
        lag.getMaxValue() / 1000.0, polls / (double) n, maxPolls);
  }
}
