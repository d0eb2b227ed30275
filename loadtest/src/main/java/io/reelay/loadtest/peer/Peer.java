package io.reelay.loadtest.peer;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The peer: what a user does without Reelay, following the vendor's skill document with curl, one
 * shell per video ({@code loadtest/peer/seed-flow.sh}), many shells in parallel. Runs {@code count}
 * shells, {@code parallel} at a time, and reads their {@code PHASE}/{@code RESULT} lines into a
 * {@link Result}. A shell past its timeout is killed with its children and counts as failed
 * ({@code timeout}); no shell outlives {@link #run}, nor the JVM (a shutdown hook kills what is left).
 *
 * <p>Usage: {@code java -cp "loadtest/target/classes:$(cat loadtest/target/classpath.txt)"
 * io.reelay.loadtest.peer.Peer BASE_URL|embedded credits|state|video COUNT PARALLEL TIME_SCALE [TIMEOUT_S]
 * [REPO_ROOT]}: {@code embedded} starts a simulator in this JVM at that time scale.
 */
public final class Peer {

  public static final List<String> MODES = List.of("credits", "state", "video");
  /** Where the script lives, relative to the repository root. */
  public static final Path SCRIPT = Path.of("loadtest", "peer", "seed-flow.sh");
  /** Last lines of a failed shell's stderr kept in its {@link Run}. */
  private static final int STDERR_TAIL_LINES = 5;
  /** How long a killed shell gets to clean up (its trap removes its temp files) before SIGKILL. */
  private static final Duration KILL_GRACE = Duration.ofSeconds(2);

  private Peer() {}

  /** One step a shell announced: {@code PHASE <name> <epoch_ms>}. */
  public record Phase(String name, long atMs) {}

  /**
   * One shell. {@code totalMs} is the script's own end-to-end time ({@code RESULT}; -1 if it printed
   * none), {@code processMs} the process's, fork and exec included. {@code polls} counts the render
   * polls it sent; {@code renderSeenDoneAtMs} is when it saw the render completed (-1 if it did not).
   */
  public record Run(int index, boolean ok, String failure, long totalMs, long processMs, int polls,
      long renderSeenDoneAtMs, int exitCode, List<Phase> phases, String stderrTail) {}

  /**
   * What {@code count} shells did. {@code latencyMs} holds the end-to-end time of each completed one
   * (the script's {@code total_ms}); {@code polls} every render poll sent, by completed and failed shells;
   * {@code renderSeenDoneAtMs} when each completed video's shell saw its render done (epoch ms), in run order.
   */
  public record Result(String mode, int count, int completed, Map<String, Integer> failures, Histogram latencyMs,
      long polls, double wallSeconds, List<Long> renderSeenDoneAtMs, List<Run> runs) {

    public int failed() {
      return count - completed;
    }

    /** Completed shells per second of wall time. */
    public double perSecond() {
      return wallSeconds <= 0 ? 0 : completed / wallSeconds;
    }

    /** Mean render polls of a completed video (NaN when none completed, 0 outside mode video). */
    public double pollsPerRender() {
      if (!mode.equals("video")) return 0;
      if (completed == 0) return Double.NaN;
      return runs.stream().filter(Run::ok).mapToInt(Run::polls).sum() / (double) completed;
    }

    public String summary() {
      StringBuilder sb = new StringBuilder();
      sb.append(String.format(Locale.ROOT, "peer %s: %d/%d completed in %.1f s (%.2f/s)", mode, completed, count,
          wallSeconds, perSecond()));
      if (!failures.isEmpty()) sb.append(", failed ").append(failures);
      if (latencyMs.getTotalCount() > 0) {
        sb.append(String.format(Locale.ROOT, "%n  end to end ms: p50 %d, p90 %d, p99 %d, max %d",
            latencyMs.getValueAtPercentile(50), latencyMs.getValueAtPercentile(90), latencyMs.getValueAtPercentile(99),
            latencyMs.getMaxValue()));
      }
      if (mode.equals("video")) {
        sb.append(String.format(Locale.ROOT, "%n  render polls: %d (%.2f per completed render)", polls, pollsPerRender()));
      }
      return sb.toString();
    }
  }

  /**
   * Runs {@code count} shells of {@code seed-flow.sh baseUrl mode timeScale}, {@code parallel} at a time,
   * each killed after {@code timeout}. {@code repoRoot} is where {@link #SCRIPT} is found.
   */
  public static Result run(Path repoRoot, String baseUrl, String mode, int count, int parallel, double timeScale,
      Duration timeout) throws IOException, InterruptedException {
    if (!MODES.contains(mode)) throw new IllegalArgumentException("mode must be one of " + MODES + ": " + mode);
    if (count < 0 || parallel < 1) throw new IllegalArgumentException("count >= 0 and parallel >= 1 needed");
    if (!(timeScale > 0)) throw new IllegalArgumentException("time scale must be > 0: " + timeScale);
    Path script = repoRoot.resolve(SCRIPT).toAbsolutePath();
    if (!Files.isRegularFile(script)) throw new IOException("no peer script at " + script);

    Path tmp = Files.createTempDirectory("reelay-peer");
    Set<Process> live = ConcurrentHashMap.newKeySet();
    Thread hook = new Thread(() -> {
      live.forEach(Peer::killTree);
      deleteTree(tmp);
    }, "peer-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    AtomicInteger threadNo = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, Math.max(1, count)), r -> {
      Thread t = new Thread(r, "peer-shell-" + threadNo.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "peer-timeout");
      t.setDaemon(true);
      return t;
    });
    String scale = Double.toString(timeScale);
    long t0 = System.nanoTime();
    List<Run> runs = new ArrayList<>(count);
    try {
      List<Future<Run>> futures = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        int index = i;
        futures.add(pool.submit(() -> runOne(index, List.of("bash", script.toString(), baseUrl, mode, scale), repoRoot,
            tmp, timeout, live, killer)));
      }
      for (Future<Run> f : futures) runs.add(f.get());
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) throw io;
      if (cause instanceof RuntimeException re) throw re;
      throw new IllegalStateException("a peer shell failed to run", cause);
    } finally {
      pool.shutdownNow();
      live.forEach(Peer::killTree);
      pool.awaitTermination(KILL_GRACE.toMillis() * 3, TimeUnit.MILLISECONDS);
      killer.shutdownNow();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running or about to: it kills what is left
      }
      deleteTree(tmp);
    }
    double wallSeconds = (System.nanoTime() - t0) / 1e9;
    return result(mode, count, runs, wallSeconds);
  }

  static Result result(String mode, int count, List<Run> runs, double wallSeconds) {
    Histogram latency = new Histogram(3);
    Map<String, Integer> failures = new TreeMap<>();
    List<Long> seenDone = new ArrayList<>();
    int completed = 0;
    long polls = 0;
    for (Run r : runs) {
      polls += r.polls();
      if (r.ok()) {
        completed++;
        latency.recordValue(Math.max(0, r.totalMs()));
        if (r.renderSeenDoneAtMs() >= 0) seenDone.add(r.renderSeenDoneAtMs());
      } else {
        failures.merge(r.failure(), 1, Integer::sum);
      }
    }
    return new Result(mode, count, completed, Collections.unmodifiableMap(failures), latency, polls, wallSeconds,
        List.copyOf(seenDone), List.copyOf(runs));
  }

  private static Run runOne(int index, List<String> command, Path repoRoot, Path tmp, Duration timeout, Set<Process> live,
      ScheduledExecutorService killer) throws IOException, InterruptedException {
    Path err = tmp.resolve("shell-" + index + ".err");
    ProcessBuilder pb = new ProcessBuilder(command).directory(repoRoot.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
        .redirectError(err.toFile());
    pb.environment().put("TMPDIR", tmp.toString());
    long start = System.nanoTime();
    Process p = pb.start();
    live.add(p);
    AtomicBoolean timedOut = new AtomicBoolean();
    ScheduledFuture<?> deadline = killer.schedule(() -> {
      timedOut.set(true);
      killTree(p);
    }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    List<Phase> phases = new ArrayList<>();
    String result = null;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("PHASE ")) {
          String[] f = line.split(" ");
          if (f.length == 3) phases.add(new Phase(f[1], parseLong(f[2], -1)));
        } else if (line.startsWith("RESULT ")) {
          result = line;
        }
      }
      p.waitFor();
    } finally {
      deadline.cancel(false);
      if (p.isAlive()) killTree(p);
      live.remove(p);
    }
    long processMs = (System.nanoTime() - start) / 1_000_000;
    int exit = p.exitValue();
    int polls = (int) phases.stream().filter(ph -> ph.name().equals("poll")).count();
    if (timedOut.get()) return failed(index, "timeout", -1, processMs, polls, exit, phases, err);
    if (result == null) return failed(index, "no_result_exit_" + exit, -1, processMs, polls, exit, phases, err);
    String[] f = result.split(" ");
    if (f.length >= 3 && f[1].equals("ok")) {
      long total = parseLong(f[2], -1);
      long doneAt = -1;
      for (int i = 3; i < f.length; i++) {
        if (f[i].startsWith("polls=")) polls = (int) parseLong(f[i].substring(6), polls);
        else if (f[i].startsWith("render_done_at=")) doneAt = parseLong(f[i].substring(15), -1);
      }
      return new Run(index, true, null, total, processMs, polls, doneAt, exit, List.copyOf(phases), "");
    }
    if (f.length >= 4 && f[1].equals("fail")) {
      return failed(index, f[2], parseLong(f[3], -1), processMs, polls, exit, phases, err);
    }
    return failed(index, "bad_result_line", -1, processMs, polls, exit, phases, err);
  }

  private static Run failed(int index, String reason, long totalMs, long processMs, int polls, int exit, List<Phase> phases,
      Path err) {
    return new Run(index, false, reason, totalMs, processMs, polls, -1, exit, List.copyOf(phases), tail(err));
  }

  /**
   * SIGTERM to the shell and every process under it (its curl, sleep, jq), so its trap cleans up;
   * SIGKILL to whatever still lives after {@link #KILL_GRACE}. The tree is read before the shell dies:
   * once it is gone, its children are re-parented and no longer found under it.
   */
  static void killTree(Process p) {
    Set<ProcessHandle> seen = new LinkedHashSet<>();
    p.descendants().forEach(seen::add);
    p.destroy();
    seen.forEach(ProcessHandle::destroy);
    long until = System.nanoTime() + KILL_GRACE.toNanos();
    while (p.isAlive() && System.nanoTime() < until) {
      p.descendants().forEach(seen::add);
      try {
        p.waitFor(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    p.descendants().forEach(seen::add);
    seen.forEach(h -> {
      if (h.isAlive()) h.destroyForcibly();
    });
    if (p.isAlive()) p.destroyForcibly();
  }

  private static long parseLong(String s, long otherwise) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return otherwise;
    }
  }

  private static String tail(Path file) {
    try {
      if (!Files.exists(file)) return "";
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - STDERR_TAIL_LINES), lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "";
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException e) {
      // best effort: a temp dir
    }
  }

  /** The nearest directory at or above {@code start} that holds {@link #SCRIPT}. */
  public static Path findRepoRoot(Path start) {
    for (Path d = start.toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isRegularFile(d.resolve(SCRIPT))) return d;
    }
    throw new IllegalArgumentException("no " + SCRIPT + " at or above " + start.toAbsolutePath());
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: Peer BASE_URL|embedded credits|state|video COUNT PARALLEL TIME_SCALE [TIMEOUT_S=600] [REPO_ROOT]");
      System.exit(2);
    }
    String base = args[0];
    String mode = args[1];
    int count = Integer.parseInt(args[2]);
    int parallel = Integer.parseInt(args[3]);
    double timeScale = Double.parseDouble(args[4]);
    Duration timeout = Duration.ofSeconds(args.length > 5 ? Long.parseLong(args[5]) : 600);
    Path root = args.length > 6 ? Path.of(args[6]) : findRepoRoot(Path.of(""));
    ActorSystem<Void> system = null;
    NemoSim sim = null;
    if (base.equals("embedded")) {
      Config config = ConfigFactory.parseMap(Map.of("nemo-sim.port", 0, "nemo-sim.time-scale", timeScale))
          .withFallback(ConfigFactory.load()).resolve();
      system = ActorSystem.create(Behaviors.empty(), "peer-sim", config);
      sim = NemoSim.start(system, SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
      base = sim.baseUrl();
      System.out.println("simulator at " + base + " (time-scale " + timeScale + ")");
    }
    int status;
    try {
      Result r = run(root, base, mode, count, parallel, timeScale, timeout);
      System.out.println(r.summary());
      r.runs().stream().filter(run -> !run.ok()).limit(5).forEach(run ->
          System.out.println("  shell " + run.index() + " failed: " + run.failure()
              + (run.stderrTail().isBlank() ? "" : "\n    " + run.stderrTail().replace("\n", "\n    "))));
      status = r.completed() == r.count() ? 0 : 1;
    } finally {
      if (sim != null) sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
      if (system != null) {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
    }
    System.exit(status);
  }
}
