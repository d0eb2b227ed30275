package io.reelay.status;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One page of a listing: requests most recently updated first, each with its position (see {@link
 * Listing}), whether there may be more, and the position to continue after.
 *
 * @param next where the next page starts after (non-null exactly when {@code hasMore})
 */
record Page(List<Listed> items, boolean hasMore, String next) {

  /** A request in a listing, and where it sorts. */
  record Listed(String position, RequestStatus status) {}

  Page {
    items = List.copyOf(items);
    if (hasMore != (next != null)) {
      throw new IllegalArgumentException("a page has a next position exactly when it has more");
    }
  }

  static Page empty() {
    return new Page(List.of(), false, null);
  }

  /**
   * The first {@code limit} of the pages of several instances, each covering its own partitions:
   * merged in order, a request listed twice (a partition moving during the listing) kept once. A
   * part that stopped early (it had more, or its scan ran out of budget) bounds the merged page at
   * its {@code next}: past it that part's requests are unknown, so the page ends there.
   */
  static Page merge(List<Page> parts, int limit) {
    String bound = null;
    List<Listed> all = new ArrayList<>();
    for (Page p : parts) {
      all.addAll(p.items);
      if (p.hasMore && (bound == null || p.next.compareTo(bound) < 0)) {
        bound = p.next;
      }
    }
    all.sort(Comparator.comparing(Listed::position));
    Set<String> seen = new HashSet<>();
    List<Listed> eligible = new ArrayList<>();
    for (Listed l : all) {
      if (bound != null && l.position.compareTo(bound) > 0) {
        break;
      }
      if (seen.add(l.status().requestId())) {
        eligible.add(l);
      }
    }
    if (eligible.size() > limit) {
      List<Listed> page = eligible.subList(0, limit);
      return new Page(page, true, page.get(limit - 1).position);
    }
    return new Page(eligible, bound != null, bound);
  }
}
