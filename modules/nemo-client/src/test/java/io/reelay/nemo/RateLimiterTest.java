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

  /** One second of calls: {@code refused} answered 429, {@code through} went through; then the second is judged. */
  private static void second(RateLimiter limiter, Clock clock, int refused, int through) {
    for (int i = 0; i < refused; i++) {
      limiter.rateLimited();
    }
    for (int i = 0; i < through; i++) {
      limiter.succeeded();
    }
    clock.pass(1000);
    limiter.succeeded(); // the first call of the next second judges the last one
  }

  @Test
  void aSecondWithOneCallInTenRefusedHalvesTheRateAndSecondsWithoutGiveItBackStepByStep() {
    Clock clock = new Clock();
    RateLimiter limiter = new RateLimiter(system, 10, 1, () -> clock.now);
    assertThat(limiter.reserve()).isZero();
    assertThat(limiter.reserve()).isEqualTo(Duration.ofMillis(100)); // 10 a second: one every 100 ms
    second(limiter, clock, 2, 18);
    assertThat(limiter.perSecond()).isEqualTo(5.0);
    second(limiter, clock, 1, 19); // a stray 429 among many calls: no push-back
    assertThat(limiter.perSecond()).isEqualTo(5.0);
    second(limiter, clock, 5, 0);
    assertThat(limiter.perSecond()).isEqualTo(2.5);
    for (int i = 0; i < 10; i++) {
      second(limiter, clock, 3, 3);
    }
    assertThat(limiter.perSecond()).isEqualTo(10.0 / 64); // never below 1/64 of the configured rate

    second(limiter, clock, 0, 5);
    assertThat(limiter.perSecond()).isCloseTo(10.0 / 64 + 1, offset(1e-6)); // a second without refusals: +1 a second
    for (int i = 0; i < 20; i++) {
      second(limiter, clock, 0, 5);
    }
    assertThat(limiter.perSecond()).isEqualTo(10.0); // back to the configured rate, no further
  }

  @Test
  void aSlowerRateSpacesTheCallsFurtherApart() {
    Clock clock = new Clock();
    RateLimiter limiter = new RateLimiter(system, 10, 1, () -> clock.now);
    limiter.reserve();
    limiter.rateLimited();
    clock.pass(1000);
    limiter.rateLimited(); // a second all refused: the rate halves
    clock.pass(200);
    assertThat(limiter.perSecond()).isEqualTo(5.0);
    assertThat(limiter.reserve()).isZero();
    assertThat(limiter.reserve()).isEqualTo(Duration.ofMillis(200)); // 5 a second now
  }
}
