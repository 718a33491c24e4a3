// Package throttle is the login throttling policy: pure functions of
// counters and the time, with no storage and no HTTP. The store persists one
// [Counter] per account and one per client address, applying [Rule.Fail]
// atomically (in one transaction or compare-and-swap) after each failed
// login; the server asks [Policy.Check] before verifying any password.
//
// # What is counted
//
// Failed attempts are counted per account and per client address; successes
// are not. While either counter blocks, every attempt is answered 429 with
// Retry-After, the right password included, and is not verified, so it is
// not counted either: a blocked attacker learns nothing and extends nothing.
// A success may clear the account's counter (the owner is back), but must
// never clear the address's counter: an attacker with an account of their
// own would log into it between guesses to reset their address. The server
// should key IPv6 clients by their /64, since one host has a whole /64.
//
// # The numbers (DefaultPolicy)
//
//	         threshold  window  delays                      cap
//	account  5          1h      1s 2s 4s 8s ... 256s 300s   5m
//	address  20         1h      1s 2s 4s 8s ... 512s 900s   15m
//
// The Threshold-th failure within the window blocks for BaseDelay; each
// further failure doubles the block, up to MaxDelay. The count is forgotten
// after Window with no failure and no block: a window runs out Window after
// its start or after the end of its last block, whichever is later.
//
// Why these numbers:
//
//   - The owner barely notices: four typos an hour cost nothing, a fifth
//     one second, a seventh four seconds.
//   - No long lockout: an attacker who stops leaves the account free at most
//     MaxDelay (5 minutes) after their last failure, whatever they did
//     before; there is no permanent lock. An attacker who keeps going can
//     keep the account blocked, but must fail once every 5 minutes to do so,
//     and the address rule holds one address to about 624 failures a day,
//     enough to hold about two accounts. This is the price of the contract's
//     "every attempt gets 429 while the account is throttled"; a short cap
//     keeps it small.
//   - Guesses per day per account: at most 300, from any number of
//     addresses (5 free, 9 more while the delay grows, then one per 5
//     minutes; waiting an hour for the count to reset gives fewer).
//     TestDefaultPolicyGuessesPerDay checks this by simulating the best
//     attacker schedules.
//   - Guesses per day per address: at most 624 over all accounts.
//
// A 15-minute window, as first proposed, would let an attacker who waits
// out each reset make 935 guesses a day per account (1,344 if the window
// were fixed to its first failure and ignored blocks); the 1-hour window,
// which also counts from the end of the last block, holds them to the
// 5-minute pace.
package throttle
