package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;

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
}
