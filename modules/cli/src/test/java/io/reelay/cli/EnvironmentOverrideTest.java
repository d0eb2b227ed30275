package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Any key can be set from the environment: {@code reelay status} in a JVM of its own (started as
 * bin/reelay starts it, less the script) reads {@code CONFIG_FORCE_…} variables over everything,
 * the named {@code REELAY_…} variables still work, and {@code -Dconfig.override_with_env_vars=false}
 * switches the first off.
 */
class EnvironmentOverrideTest {

  @TempDir Path dir;

  private HttpServer statusService;
  private final List<String> keysSeen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void startStatusService() throws Exception {
    statusService = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    statusService.createContext("/v1/requests/", ex -> {
      keysSeen.add(ex.getRequestHeaders().getFirst("Authorization"));
      byte[] body = "{\"requestId\":\"req-1\",\"state\":\"COMPLETED\"}".getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    statusService.start();
  }

  @AfterEach
  void stopStatusService() {
    statusService.stop(0);
  }

  private String url() {
    return "http://127.0.0.1:" + statusService.getAddress().getPort();
  }

  @Test
  void aConfigForceVariableSetsAKeyOverItsNamedVariable() throws Exception {
    Run run = status(Map.of(
        "REELAY_STATUS_URL", "http://127.0.0.1:1", // nothing listens there: the forced URL must win
        "CONFIG_FORCE_reelay_cli_status__url", url(),
        "CONFIG_FORCE_reelay_cli_api__key", "forced-key"), List.of());

    assertThat(run.code()).as(run.output()).isEqualTo(0);
    assertThat(run.output()).contains("\"requestId\" : \"req-1\"");
    assertThat(keysSeen).containsExactly("Bearer forced-key");
  }

  @Test
  void namedVariablesStillWork() throws Exception {
    Run run = status(Map.of("REELAY_STATUS_URL", url(), "REELAY_API_KEY", "named-key"), List.of());

    assertThat(run.code()).as(run.output()).isEqualTo(0);
    assertThat(keysSeen).containsExactly("Bearer named-key");
  }

  @Test
  void overridesFromTheEnvironmentCanBeSwitchedOff() throws Exception {
    Run run = status(Map.of(
            "REELAY_STATUS_URL", url(),
            "REELAY_API_KEY", "named-key",
            "CONFIG_FORCE_reelay_cli_api__key", "forced-key"),
        List.of("-Dconfig.override_with_env_vars=false"));

    assertThat(run.code()).as(run.output()).isEqualTo(0);
    assertThat(keysSeen).containsExactly("Bearer named-key");
  }

  private record Run(int code, String output) {}

  private Run status(Map<String, String> env, List<String> jvmOptions) throws Exception {
    Path log = Files.createTempFile(dir, "status", ".log");
    Process p = ChildJvm.start(env, jvmOptions, log, "status", "req-1");
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("reelay status did not end:\n" + Files.readString(log));
    }
    return new Run(p.exitValue(), Files.readString(log));
  }
}
