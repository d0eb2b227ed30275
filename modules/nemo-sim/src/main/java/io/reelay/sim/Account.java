package io.reelay.sim;

import java.time.Instant;

/** An anonymous account: its token and its credits. Credit moves are atomic per account. */
final class Account {

  final String token;
  final String userId;
  final String clientId;
  final Instant expiresAt;
  private int available;
  private int frozen;
  private volatile boolean revoked;

  Account(String token, String userId, String clientId, Instant expiresAt, int credits) {
    this.token = token;
    this.userId = userId;
    this.clientId = clientId;
    this.expiresAt = expiresAt;
    this.available = credits;
  }

  record Balance(int available, int frozen) {
    int total() {
      return available + frozen;
    }
  }

  synchronized Balance balance() {
    return new Balance(available, frozen);
  }

  /** Holds {@code cost} for a running operation; false (nothing held) when the balance is too low. */
  synchronized boolean freeze(int cost) {
    if (available < cost) return false;
    available -= cost;
    frozen += cost;
    return true;
  }

  /** The operation that froze {@code cost} finished: the credits are gone. */
  synchronized void spend(int cost) {
    frozen -= cost;
  }

  /** The operation that froze {@code cost} failed: the credits go back. */
  synchronized void release(int cost) {
    frozen -= cost;
    available += cost;
  }

  boolean usable(Instant now) {
    return !revoked && now.isBefore(expiresAt);
  }

  void revoke() {
    revoked = true;
  }
}
