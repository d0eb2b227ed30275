package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class RateLimiterTest {

  private static final ActorSystem system = ActorSystem.create("rate-limiter-test");

  @AfterAll
  static void stop() {
    system.terminate();
  }

  @Test
  void aBurstPassesAtOnceAndTheRestIsSpacedOut() throws Exception {
    RateLimiter limiter = RateLimiter.forHost(system, "test-host-" + System.nanoTime(), 25, 5);
    long start = System.nanoTime();
    List<CompletionStage<Void>> permits = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      permits.add(limiter.acquire());
    }
    assertThat(permits.subList(0, 5)).allMatch(p -> p.toCompletableFuture().isDone());
    assertThat(permits.get(10).toCompletableFuture().isDone()).isFalse();
    CompletableFuture.allOf(permits.stream().map(CompletionStage::toCompletableFuture).toArray(CompletableFuture[]::new))
        .get(10, TimeUnit.SECONDS);
    // 25 permits beyond the burst at 25/s cannot all be granted in less than about a second
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(900);
  }

  @Test
  void zeroMeansUnlimitedAndOneHostSharesOneLimiter() {
    assertThat(RateLimiter.forHost(system, "h", 0, 1)).isNull();
    assertThat(RateLimiter.forHost(system, "shared", 10, 2)).isSameAs(RateLimiter.forHost(system, "shared", 10, 2));
  }

  /** A clock the test moves. */
  private static final class Clock {
    long now = 1_000_000_000_000L;

    void pass(long millis) {
      now += millis * 1_000_000L;
    }
  }

  @Test
  void rateLimitsHalveTheRateOnceASecondAndSuccessesGiveItBackStepByStep() {
    Clock clock = new Clock();
    RateLimiter limiter = new RateLimiter(system, 10, 1, () -> clock.now);
    assertThat(limiter.reserve()).isZero();
    assertThat(limiter.reserve()).isEqualTo(Duration.ofMillis(100)); // 10 a second: one every 100 ms
    limiter.rateLimited();
    assertThat(limiter.perSecond()).isEqualTo(5.0);
    limiter.rateLimited(); // the same overload moment: counted once
    assertThat(limiter.perSecond()).isEqualTo(5.0);
    clock.pass(1000);
    limiter.rateLimited();
    assertThat(limiter.perSecond()).isEqualTo(2.5);
    for (int i = 0; i < 10; i++) {
      clock.pass(1000);
      limiter.rateLimited();
    }
    assertThat(limiter.perSecond()).isEqualTo(10.0 / 64); // never below 1/64 of the configured rate

    limiter.succeeded(); // within a second of the last change: nothing yet
    assertThat(limiter.perSecond()).isEqualTo(10.0 / 64);
    clock.pass(1000);
    limiter.succeeded();
    assertThat(limiter.perSecond()).isCloseTo(10.0 / 64 + 1, offset(1e-6));
    for (int i = 0; i < 20; i++) {
      clock.pass(1000);
      limiter.succeeded();
    }
    assertThat(limiter.perSecond()).isEqualTo(10.0); // back to the configured rate, no further
  }

  @Test
  void aSlowerRateSpacesTheCallsFurtherApart() {
    Clock clock = new Clock();
    RateLimiter limiter = new RateLimiter(system, 10, 1, () -> clock.now);
    limiter.reserve();
    limiter.rateLimited();
    clock.pass(200); // the next free slot was at +100 ms
    assertThat(limiter.reserve()).isZero();
    assertThat(limiter.reserve()).isEqualTo(Duration.ofMillis(200)); // 5 a second now
  }
}
