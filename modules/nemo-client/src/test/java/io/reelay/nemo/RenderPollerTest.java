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

  /** How a backend reports progress at {@code t} of a job finishing at {@code finish}. */
  private interface Progress {
    Integer at(double t, double finish);
  }

  /** 0 to 100 in step with the job. */
  private static final Progress LINEAR = (t, finish) -> (int) Math.floor(100 * t / finish);
  /** 5 at submit, 95 at the end, then 100 once completed (the simulator's convention). */
  private static final Progress CAPPED = (t, finish) -> (int) Math.min(95, Math.floor(5 + 90 * t / finish));
  private static final Progress NONE = (t, finish) -> null;

  private static double[] run(double finish, boolean reportsProgress) {
    return run(finish, reportsProgress ? LINEAR : NONE);
  }

  /** Runs a job that finishes at {@code finish} seconds: {lag, calls}. */
  private static double[] run(double finish, Progress progress) {
    return run(finish, progress, new RenderPoller.Convention());
  }

  private static double[] run(double finish, Progress progress, RenderPoller.Convention convention) {
    RenderPoller p = new RenderPoller(GRID, Duration.ofMillis(500), Duration.ofSeconds(1), convention);
    p.submitted(progress.at(0, finish)); // what the submit answered
    double t = p.first().toMillis() / 1000.0;
    while (t < finish) {
      t += p.next(Duration.ofMillis((long) (t * 1000)), progress.at(t, finish)).toMillis() / 1000.0;
    }
    p.completed(Duration.ofMillis((long) (t * 1000)));
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
  void progressCappedAt95IsSeenSoonWhenTheBudgetHoldsALookAtBothEnds() {
    for (double finish : new double[] {31, 45, 59, 61, 75, 90, 140, 290}) {
      double[] r = run(finish, CAPPED);
      assertThat((int) r[1]).as("calls for a %s s render", finish).isLessThanOrEqualTo(seedCalls(finish));
      // with a poll to spare before the 100 % point, the 95 % point is looked at first; with one
      // poll left it goes to the 100 % point, about 5 % of the render late here (never too early)
      double allowed = finish >= 90 ? 1.5 : 0.07 * finish + 0.5;
      assertThat(r[0]).as("lag for a %s s render", finish).isLessThanOrEqualTo(allowed);
    }
  }

  @Test
  void onceTheBackendShowsItCapsProgressEveryRenderIsSeenWithinAboutASecond() {
    RenderPoller.Convention convention = new RenderPoller.Convention();
    // long renders have budget for a look at both points; they show where this backend finishes
    for (double finish : new double[] {140, 290}) {
      run(finish, CAPPED, convention);
    }
    for (double finish : new double[] {31, 45, 59, 61, 75, 90, 140, 290}) {
      double[] r = run(finish, CAPPED, convention);
      assertThat(r[0]).as("lag for a %s s render, %s", finish, convention).isLessThanOrEqualTo(1.5);
      assertThat((int) r[1]).as("calls for a %s s render", finish).isLessThanOrEqualTo(seedCalls(finish));
    }
  }

  @Test
  void aBackendWhoseProgressRunsTo100IsRecognisedAndNeverMisjudgedAsCapped() {
    RenderPoller.Convention convention = new RenderPoller.Convention();
    for (double finish : new double[] {140, 290, 31, 45, 59, 61, 75, 90, 140, 290}) {
      double[] r = run(finish, LINEAR, convention);
      assertThat(r[0]).as("lag for a %s s render, %s", finish, convention).isLessThanOrEqualTo(1.5);
      assertThat((int) r[1]).as("calls for a %s s render", finish).isLessThanOrEqualTo(seedCalls(finish));
    }
    assertThat(convention.finishPercent()).isEqualTo(100.0);
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
