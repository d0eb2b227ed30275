package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
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
  void aBurstPassesAtOnceAndTheRestIsSpacedOut() {
    Clock clock = new Clock();
    RateLimiter limiter = new RateLimiter(system, 25, 5, () -> clock.now);
    List<Duration> waits = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      waits.add(limiter.reserve());
    }
    // 25 a second is one every 40 ms: the burst of 5 at once, then the 6th after 40 ms, the 7th after 80 ms, …
    for (int i = 0; i < 30; i++) {
      assertThat(waits.get(i)).as("permit %d", i).isEqualTo(Duration.ofMillis(Math.max(0, i - 4) * 40L));
    }
    // once the reserved slots are past, unused capacity comes back up to the burst, no further
    clock.pass(25 * 40 + 10_000);
    for (int i = 0; i < 5; i++) {
      assertThat(limiter.reserve()).as("again within the burst").isZero();
    }
    assertThat(limiter.reserve()).isEqualTo(Duration.ofMillis(40));
  }

  @Test
  void aPermitBeyondTheBurstIsGrantedOnlyAfterItsWait() throws Exception {
    RateLimiter limiter = RateLimiter.forHost(system, "test-host-" + System.nanoTime(), 1, 1);
    assertThat(limiter.acquire().toCompletableFuture().isDone()).as("the burst").isTrue();
    CompletableFuture<Void> second = limiter.acquire().toCompletableFuture();
    assertThat(second.isDone()).as("a second permit at 1 a second, at once").isFalse();
    second.get(10, TimeUnit.SECONDS); // and it does come
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
