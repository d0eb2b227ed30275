package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.AppenderBase;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A whole flow with every logger at DEBUG (pekko-http's included, with its network-byte logging
 * switched on in config) and every failure logged: no token appears anywhere in the output.
 */
class NoSecretsInLogsTest {

  /** Keeps every formatted line and stack trace. */
  static final class Capture extends AppenderBase<ILoggingEvent> {
    final ConcurrentLinkedQueue<String> lines = new ConcurrentLinkedQueue<>();

    @Override
    protected void append(ILoggingEvent e) {
      lines.add(e.getLoggerName() + " " + e.getFormattedMessage()
          + (e.getThrowableProxy() == null ? "" : "\n" + ThrowableProxyUtil.asString(e.getThrowableProxy())));
    }
  }

  @Test
  void aFullFlowWithDebugLoggingLeaksNoToken(@TempDir Path dir) throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    LoggerContext ctx = root.getLoggerContext();
    Level before = root.getLevel();
    Capture capture = new Capture();
    capture.setContext(ctx);
    capture.start();
    root.addAppender(capture);
    root.setLevel(Level.TRACE);
    ctx.getLogger("org.apache.pekko").setLevel(Level.TRACE);
    ctx.getLogger("io.reelay").setLevel(Level.TRACE);
    List<String> secrets = new ArrayList<>();
    ActorTestKit kit = null;
    NemoSim sim = null;
    try {
      Config config = ConfigFactory.parseMap(Map.of(
              "nemo-sim.port", 0,
              "nemo-sim.time-scale", 0.005,
              "pekko.loglevel", "DEBUG",
              "pekko.http.client.log-unencrypted-network-bytes", 4096,
              "pekko.http.host-connection-pool.client.log-unencrypted-network-bytes", 4096))
          .withFallback(ConfigFactory.load()).resolve();
      kit = ActorTestKit.create("secrets-test", config);
      sim = NemoSim.start(kit.system(), SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
      NemoClient client = new NemoClient(kit.system(), NemoSettings.from(config.getConfig("reelay.nemo")).withBaseUrl(sim.baseUrl()));
      org.slf4j.Logger log = LoggerFactory.getLogger("io.reelay.test.flow");

      AnonymousToken t = await(client.anonymousToken("client-" + UUID.randomUUID()));
      secrets.add(t.token().reveal());
      log.info("got {} for user {}", t.token(), t.userId());
      BackendSession s = await(client.createSession(t.token(), "en"));
      await(client.runSse(t.token(), s.sessionId(), "generate a 5-second clip of a red kite").runWith(Sink.ignore(), kit.system()));
      var state = await(client.state(t.token(), s.sessionId()));
      secrets.add(await(client.claimToken(t.token(), s.taskId(), s.sessionId())).reveal());
      String renderId = "render_" + UUID.randomUUID();
      RenderJob job = await(client.submitRender(t.token(), renderId, s.sessionId(), state.draft(), "mp4", "high"));
      long renderDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (job.isRunning()) {
        assertThat(System.nanoTime()).as("the render finished within 60 s").isLessThan(renderDeadline);
        Thread.sleep(50);
        job = await(client.pollRender(t.token(), renderId));
      }
      await(client.download(client.fallbackDownloadUrl(renderId), Optional.of(t.token()), dir.resolve("v.mp4")));
      await(client.credits(t.token()));
      for (Token bad : List.of(Token.of("nmv_usr_SECRETBAD1"), Token.of("nmv_usr_SECRETBAD2"))) {
        secrets.add(bad.reveal());
        // the call must fail (1001), and its failure is logged with its whole stack trace
        Throwable failure = catchThrowable(() -> await(client.credits(bad)));
        assertThat(failure).as("a call with a made-up token").isNotNull()
            .cause().isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(1001));
        log.warn("call failed: {}", failure.getMessage(), failure);
      }
    } finally {
      if (sim != null) {
        sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      if (kit != null) {
        kit.shutdownTestKit();
      }
      root.detachAppender(capture);
      root.setLevel(before);
      ctx.getLogger("org.apache.pekko").setLevel(null);
      ctx.getLogger("io.reelay").setLevel(null);
    }
    String all = String.join("\n", capture.lines);
    assertThat(capture.lines.size()).as("debug logging was captured").isGreaterThan(20);
    assertThat(all).contains("pekko.http"); // pekko-http's own debug output is in there
    for (String secret : secrets) {
      assertThat(all).as("log output").doesNotContain(secret);
      assertThat(all).doesNotContain(secret.substring(8)); // not even without its prefix
    }
  }

  private static <T> T await(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(60, TimeUnit.SECONDS);
  }
}
