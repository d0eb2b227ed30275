package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The polling schedule against jobs with known finish times (simulated clock): completion is seen
 * within about the margin of the finish, and the calls never exceed the vendor's 30-second schedule.
 */
class RenderPollerTest {

  private static final Duration GRID = Duration.ofSeconds(30);

  /** Runs a job that progresses linearly and finishes at {@code finish} seconds. */
  private static double[] run(double finish, boolean reportsProgress) {
    RenderPoller p = new RenderPoller(GRID, Duration.ofMillis(500), Duration.ofSeconds(1));
    double t = p.first().toMillis() / 1000.0;
    while (t < finish) {
      Integer progress = reportsProgress ? (int) Math.floor(100 * t / finish) : null;
      t += p.next(Duration.ofMillis((long) (t * 1000)), progress).toMillis() / 1000.0;
    }
    int calls = p.calls() + 1; // the poll that saw it completed
    return new double[] {t - finish, calls};
  }

  private static int seedCalls(double finish) {
    return (int) Math.ceil(finish / 30);
  }

  @Test
  void withProgressCompletionIsSeenWithinAboutASecondAndNeverCostsMoreThanTheSeedSchedule() {
    for (double finish : new double[] {31, 45, 59, 61, 75, 90, 140, 290}) {
      double[] r = run(finish, true);
      assertThat(r[0]).as("lag for a %s s render", finish).isLessThanOrEqualTo(1.5);
      assertThat((int) r[1]).as("calls for a %s s render", finish).isLessThanOrEqualTo(seedCalls(finish));
    }
  }

  @Test
  void shortRendersAndRendersWithoutProgressFallBackToTheSeedSchedule() {
    double[] shortJob = run(20, true);
    assertThat(shortJob[0]).isEqualTo(10.0); // seen at the 30 s grid point, like the seed
    assertThat((int) shortJob[1]).isEqualTo(1);
    for (double finish : new double[] {45, 100}) {
      double[] r = run(finish, false);
      assertThat((int) r[1]).isEqualTo(seedCalls(finish));
      assertThat(r[0]).isLessThan(30.0);
    }
  }
}
