package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CommitGateTest {

  private final CommitGate gate = new CommitGate();

  @Test
  void finishedRecordsOfTheCurrentEpochAreCommittedInOrder() {
    assertThat(gate.commit(0, true, true, 0)).isTrue();
    assertThat(gate.commit(1, true, true, 0)).isTrue();
    assertThat(gate.commit(2, true, false, 0)).as("read before a hand-over").isFalse();
  }

  /**
   * An eager rebalance revokes partition 0 and assigns it straight back: 8 and 9 were in hand and
   * released, 10-12 were still buffered and run first, then Kafka gives 8-12 again from the
   * committed offset 8. Nothing above 8 may be committed before 8 and 9 have come back.
   */
  @Test
  void nothingAboveARecordOwedToTheNextOwnerIsCommittedBeforeItComesBack() {
    assertThat(gate.commit(8, false, false, 0)).isFalse();
    assertThat(gate.commit(9, false, false, 0)).isFalse();
    assertThat(gate.owed()).isEqualTo(2);
    // reassigned from 8: the buffered records finish first
    assertThat(gate.commit(10, true, true, 8)).isFalse();
    assertThat(gate.commit(11, true, true, 8)).isFalse();
    assertThat(gate.commit(12, true, true, 8)).isFalse();
    // then Kafka's second delivery, from the committed offset
    assertThat(gate.commit(8, true, true, 8)).isTrue();
    assertThat(gate.commit(9, true, true, 8)).isTrue();
    assertThat(gate.owed()).isZero();
    assertThat(gate.commit(10, true, true, 8)).isTrue();
  }

  @Test
  void aRecordReleasedAgainStaysOwed() {
    assertThat(gate.commit(3, false, true, 0)).isFalse();
    assertThat(gate.commit(3, false, true, 3)).isFalse();
    assertThat(gate.commit(4, true, true, 3)).isFalse();
    assertThat(gate.commit(3, true, true, 3)).isTrue();
  }

  @Test
  void offsetsBelowWhereThePartitionWasAssignedFromAreNotOwedAnyMore() {
    assertThat(gate.commit(5, false, false, 0)).isFalse();
    // the partition went to another worker, which committed 20, and came back
    assertThat(gate.commit(20, true, true, 20)).isTrue();
    assertThat(gate.owed()).isZero();
  }
}
