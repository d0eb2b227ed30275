package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The client's retry loop on a scripted sequence of answers (no HTTP: each answer is what a call
 * completes with), so that the order of faults is exact: each remedy counts its own attempts.
 */
class RetryLoopTest {

  private static final Config CONFIG = ConfigFactory.parseMap(Map.of(
          "reelay.nemo.retry.initial", "1ms",
          "reelay.nemo.retry.max", "5ms",
          "reelay.nemo.retry.max-attempts", 1,
          "reelay.nemo.retry.rate-limit-wait", "5ms",
          "reelay.nemo.retry.refusal-budget", "200ms",
          "reelay.nemo.calls-per-second", 0))
      .withFallback(ConfigFactory.load()).resolve();
  private static final ActorTestKit kit = ActorTestKit.create("retry-loop", CONFIG);
  private static final List<NemoClient.RetryNotice> notices = new CopyOnWriteArrayList<>();
  private static final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private static final NemoTransport transport =
      new NemoTransport(kit.system(), NemoSettings.from(CONFIG.getConfig("reelay.nemo")), meters).withRetryListener(notices::add);

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** A call that fails with {@code faults} in turn, then answers "ok"; {@code calls} counts its tries. */
  private static Supplier<CompletionStage<String>> script(int[] calls, RuntimeException... faults) {
    Deque<RuntimeException> left = new ArrayDeque<>(List.of(faults));
    return () -> {
      calls[0]++;
      RuntimeException next = left.poll();
      return next == null ? CompletableFuture.completedFuture("ok") : CompletableFuture.failedFuture(next);
    };
  }

  private static final NemoException.Http E502 = new NemoException.Http(502, "bad gateway", null);
  private static final NemoException.Http E429 = new NemoException.Http(429, "slow down", null);
  private static final NemoException.Http E503 = new NemoException.Http(503, "busy", null);

  private static <T> T await(CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void aRateLimitAfterAServerErrorIsItsFirstWaitNotASecondRetry() throws Exception {
    notices.clear();
    int[] calls = {0};
    // max-attempts is 1: one 5xx may be retried; the 429 that follows counts on its own
    assertThat(await(transport.retrying("state", script(calls, E502, E429, E503, E429)))).isEqualTo("ok");
    assertThat(calls[0]).isEqualTo(5);
    assertThat(notices).extracting(NemoClient.RetryNotice::refused).containsExactly(null, "rate limited", "overloaded", "rate limited");
  }

  @Test
  void everyAttemptIsTimedAndEveryFailureAndRetryCountedByEndpointCodeAndRemedy() throws Exception {
    int[] calls = {0};
    await(transport.retrying("render-poll", script(calls, E502, E429)));
    assertThat(meters.get("reelay_backend_calls").tags("endpoint", "render-poll", "outcome", "ok").timer().count()).isEqualTo(1);
    assertThat(meters.get("reelay_backend_calls").tags("endpoint", "render-poll", "outcome", "error").timer().count()).isEqualTo(2);
    assertThat(meters.get("reelay_backend_errors").tags("endpoint", "render-poll", "code", E502.code()).counter().count()).isEqualTo(1);
    assertThat(meters.get("reelay_backend_errors").tags("endpoint", "render-poll", "code", E429.code()).counter().count()).isEqualTo(1);
    assertThat(meters.find("reelay_backend_retries").tag("remedy", "WAIT").counter()).isNotNull();
  }

  @Test
  void aSecondServerErrorEndsTheCallAfterMaxAttempts() {
    int[] calls = {0};
    assertThatThrownBy(() -> await(transport.retrying("state", script(calls, E502, E429, E502))))
        .cause().isSameAs(E502);
    assertThat(calls[0]).isEqualTo(3);
  }

  @Test
  void refusalsAreWaitedOutUntilTheBudgetIsSpent() {
    int[] calls = {0};
    RuntimeException[] always = new RuntimeException[10_000];
    Arrays.fill(always, E429);
    assertThatThrownBy(() -> await(transport.retrying("credits", script(calls, always)))).cause().isSameAs(E429);
    // waits of 2.5-5 ms within a 200 ms budget: many tries, not one
    assertThat(calls[0]).isBetween(20, 100);
  }

  @Test
  void aMessageToTheAgentIsRetriedOnlyWhenRefused() throws Exception {
    int[] calls = {0};
    assertThat(await(transport.retryingRefusals("run_sse", script(calls, E503, E429)))).isEqualTo("ok");
    assertThat(calls[0]).isEqualTo(3);
    int[] once = {0};
    assertThatThrownBy(() -> await(transport.retryingRefusals("run_sse", script(once, E502)))).cause().isSameAs(E502);
    assertThat(once[0]).isEqualTo(1); // a 5xx as the message went out may have run it: never repeated here
  }
}
