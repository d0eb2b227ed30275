package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The index's table against a HashMap: puts that keep the latest offset, removes that keep every other entry findable, growth. */
class SnapshotIndexTest {

  @Test
  void theTableAnswersAsAMapDoesThroughPutsRemovesAndGrowth() {
    SnapshotIndex.Table table = new SnapshotIndex.Table();
    Map<Long, Long> expected = new HashMap<>();
    SplittableRandom random = new SplittableRandom(7);
    // few distinct hashes, many of them in the same slots (small values): long probe runs, and removes inside them
    for (int i = 0; i < 200_000; i++) {
      long hash = 1 + random.nextInt(5_000) * (random.nextBoolean() ? 1L : 1L << 40);
      if (random.nextInt(4) == 0) {
        table.remove(hash);
        expected.remove(hash);
      } else {
        long offset = random.nextInt(1_000_000);
        table.put(hash, offset);
        expected.merge(hash, offset, Math::max);
      }
    }
    assertThat(table.size()).isEqualTo(expected.size());
    for (int h = 1; h <= 5_000; h++) {
      for (long hash : new long[] {h, (long) (h - 1) * (1L << 40) + 1}) {
        assertThat(table.get(hash)).as("hash %d", hash).isEqualTo(expected.getOrDefault(hash, -1L));
      }
    }
  }

  @Test
  void anAcknowledgementForAPartitionNotIndexedHereIsIgnoredAndAnOlderOneNeverWinsOverANewer() {
    SnapshotIndex index = new SnapshotIndex();
    index.written(3, "default/a", 10); // handed over already (or not yet assigned)
    assertThat(index.offset(3, "default/a")).isEqualTo(-1);
    index.replace(3, new SnapshotIndex.Table());
    index.written(3, "default/a", 12);
    index.written(3, "default/a", 11); // acknowledgements of one partition come in order; a late one still never wins
    assertThat(index.offset(3, "default/a")).isEqualTo(12);
    assertThat(index.offset(3, "other/a")).as("another tenant's key").isEqualTo(-1);
    assertThat(index.size()).isEqualTo(1);
    index.drop(3);
    assertThat(index.offset(3, "default/a")).isEqualTo(-1);
    assertThat(SnapshotIndex.hash("default/a")).isNotEqualTo(SnapshotIndex.hash("other/a")).isNotZero();
  }
}
