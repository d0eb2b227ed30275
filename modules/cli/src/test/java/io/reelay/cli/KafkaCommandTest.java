package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code reelay kafka [PORT] [DATA_DIR] [CONTROLLER_PORT]}: what its README promises. */
class KafkaCommandTest {

  private static final Pattern READY = Pattern.compile("kafka ready on (127\\.0\\.0\\.1:(\\d+)) \\(data in (.+)\\)");

  @TempDir Path dir;

  @Test
  void aBrokerStartsOnThePortAndDataDirGivenAndStopsOnSigterm() throws Exception {
    Path data = dir.resolve("kafka-data");
    Path log = dir.resolve("kafka.log");
    Process p = ChildJvm.start(Map.of(), List.of(), log, "kafka", "0", data.toString());
    try {
      Matcher ready = awaitReady(p, log, Duration.ofSeconds(90));
      assertThat(Path.of(ready.group(3)).toAbsolutePath().normalize()).isEqualTo(data.toAbsolutePath().normalize());
      assertThat(Integer.parseInt(ready.group(2))).isPositive();
      assertThat(data.resolve("meta.properties")).exists();
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, ready.group(1)))) {
        assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
      }
      p.destroy(); // SIGTERM: the shutdown hook stops the broker
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("stopped on SIGTERM").isTrue();
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void aPortThatIsNotANumberIsAUsageError() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = new CommandLine(new Main())
        .setErr(new PrintWriter(err, true, StandardCharsets.UTF_8))
        .execute("kafka", "ninety");
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("PORT").contains("ninety");
  }

  private static Matcher awaitReady(Process p, Path log, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      String out = Files.readString(log);
      Matcher m = READY.matcher(out);
      if (m.find()) {
        return m;
      }
      if (!p.isAlive()) {
        throw new AssertionError("reelay kafka exited with " + p.exitValue() + ":\n" + out);
      }
      Thread.sleep(200);
    }
    throw new AssertionError("reelay kafka not ready within " + timeout + ":\n" + Files.readString(log));
  }
}
