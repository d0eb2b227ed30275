package io.reelay.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code io.reelay.cli.Main} in a JVM of its own, as bin/reelay starts it, with an environment of the test's choosing. */
final class ChildJvm {

  private ChildJvm() {}

  /**
   * Starts {@code Main ARGS} with the test class path, {@code env} added to an environment cleared
   * of every REELAY_, NEMO_ and CONFIG_FORCE_ variable, stdout and stderr together into {@code log}.
   */
  static Process start(Map<String, String> env, List<String> jvmOptions, Path log, String... args) throws IOException {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", classpath, Main.class.getName()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("REELAY_") || k.startsWith("NEMO_") || k.startsWith("CONFIG_FORCE_"));
    pb.environment().putAll(env);
    return pb.start();
  }
}
