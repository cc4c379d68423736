// Package game solves small finite preference games exactly. It is the
// test oracle of package gda and the engine of `slhf analyze`.
//
// A game is a preference matrix p over n actions (candidate responses or
// models): p[i][j] = P(i ≻ j), with p[i][j] + p[j][i] = 1 and p[i][i] = ½.
// Three solution concepts are offered side by side:
//
//   - SLHF (Stackelberg Learning from Human Feedback, paper eq. 5): a Leader
//     commits to y, a Follower answers with a refinement y'. [SolveSLHF]
//     gives the KL-regularised equilibrium in closed form, [BestResponses]
//     and [Maximin] its unregularised limit.
//   - NLHF (Nash Learning from Human Feedback, Munos et al. 2023): the Nash
//     equilibrium of the symmetric zero-sum game with payoff p − ½.
//     [SolveNash] solves it exactly by linear programming, [RegularizedNash]
//     with KL regularisation by mirror-prox under a certified error bound.
//   - RLHF: Bradley–Terry rewards fitted by maximum likelihood
//     ([FitBradleyTerry]) and the KL-regularised policy π ∝ π_ref·exp(r/τ)
//     ([RewardPolicy]).
//
// [Cycles] and [CondorcetWinner] describe intransitivity, and [Analyze]
// runs all of the above over a list of pairwise comparisons.
//
// Matrices are [][]float64, row-major, owned by the caller and never
// modified. Results are freshly allocated and owned by the caller. Every
// function is safe for concurrent use on distinct or read-only inputs.
package game
