package io.reelay.worker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A worker in a JVM of its own ({@code io.reelay.worker.Worker#main}, as {@code reelay worker} runs
 * it), configured by a config file: what a fleet is made of, and what a test can kill for real.
 */
final class WorkerProcess implements AutoCloseable {

  private static final Pattern READY = Pattern.compile("reelay worker (reelay-worker-\\S+) consuming");

  final String name;
  final Path log;
  private final Process process;
  private String clientId;

  private WorkerProcess(String name, Path log, Process process) {
    this.name = name;
    this.log = log;
    this.process = process;
  }

  /** Starts a worker whose config is {@code config} (HOCON, on top of the test classpath's). */
  static WorkerProcess start(String name, String config, Path dir) throws IOException {
    Files.createDirectories(dir);
    Path conf = dir.resolve(name + ".conf");
    Files.writeString(conf, "include \"application\"\n" + config, StandardCharsets.UTF_8);
    Path log = dir.resolve(name + ".log");
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Dconfig.file=" + conf,
        "-cp", classpath,
        "io.reelay.worker.Worker"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new WorkerProcess(name, log, p);
  }

  /** Waits for the worker's "consuming" line; returns its consumer client id. */
  String awaitReady(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError(name + " exited with " + process.exitValue() + ":\n" + tail());
      }
      Matcher m = READY.matcher(Files.readString(log));
      if (m.find()) {
        clientId = m.group(1);
        return clientId;
      }
      Thread.sleep(200);
    }
    throw new AssertionError(name + " not ready within " + timeout + ":\n" + tail());
  }

  String clientId() {
    return clientId;
  }

  long pid() {
    return process.pid();
  }

  /** kill -9: no shutdown hook, no goodbye to the group. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** kill (SIGTERM): the JVM's shutdown hook runs Pekko's coordinated shutdown. */
  int terminate(Duration timeout) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError(name + " did not stop within " + timeout + " of SIGTERM");
    }
    return process.exitValue();
  }

  boolean alive() {
    return process.isAlive();
  }

  String tail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }
}
