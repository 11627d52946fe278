"""Where each quantity lives in the plain arrays the jitted rules work on.

The rules run inside numba kernels, which take arrays, not objects. These constants name
the rows of those arrays so the rules read like the model: ``fs[MOOD, i]`` is customer i's
mood. numba freezes them into the compiled code as constants.
"""

# ------------------------------------------------------------ customer state (float rows)
MOOD = 0
EXPECTATION = 1
SATISFACTION = 2
TRUST = 3
EFFORT = 4
SEVERITY = 5          # severity of the open issue, in [0, 1]
ISSUE_COMPLEXITY = 6  # complexity of the touchpoint where the open issue arose
WORST = 7             # worst valence since the last decision (peak-end memory)
LAST = 8              # last valence since the last decision
CHURN_PROPENSITY = 9  # the customer's own shift of the churn log-odds, drawn when they join
N_FLOAT_STATE = 10

# -------------------------------------------------------------- customer state (int rows)
ACTIVE = 0
TOUCHPOINT = 1        # -1 before the first step: the first move goes to the entry touchpoint
SEGMENT = 2
JOIN_STEP = 3
CHURN_STEP = 4        # -1 while active
ISSUE_OPEN = 5
ISSUE_SILENT = 6      # 1: the open issue is lived with in silence (never voiced or given up)
QUEUED_SINCE = 7      # step the customer joined the desk queue, -1 when not queued
CYCLE_COUNT = 8       # appraisals since the last decision
REFERRED = 9
EPISODE = 10          # diagnostics: row of the open issue's episode record, -1 when none
CYCLE_EVENTS = 11     # diagnostics: what happened since the last decision (CY_* bits)
N_INT_STATE = 12

# ----------------------------------- a week's working rows (one column per customer of a group)
# ``rules.live_week`` works through a group of customers in passes; these contiguous rows
# carry each customer's draws and appraisal inputs from one pass to the next, so that the
# draws and the appraisal run as loops of vector instructions. ``W_FAILED`` says whether the
# visit failed (1.0, caught or not): the Mesa engine reads it to count failures per touchpoint.
(W_NURTURE_DRAW, W_MOVE_DRAW, W_FAILURE_DRAW, W_Z_PERFORMANCE, W_Z_MOOD,
 W_MOOD, W_EXPECTATION, W_SATISFACTION, W_TRUST, W_WORST, W_LAST,
 W_PERFORMANCE, W_SALIENCE, W_SHOCK, W_FAILED) = range(15)
N_WORK = 15

# ------------------------------------------------------------- touchpoint parameter rows
TP_QUALITY = 0
TP_VARIABILITY = 1
TP_FAILURE = 2
TP_COMPLEXITY = 3
TP_SALIENCE = 4
TP_DECISION = 5
TP_STAFFED = 6        # how much of the touchpoint people deliver: 1 human, 0 digital
N_TP = 7
MOVE_GUIDE_CELLS = 256  # cells of the guide table that starts the search for the next move

# --------------------------------------------------------------- segment parameter rows
SEG_CUM_SHARE = 0     # cumulative share, for drawing a segment from one uniform
SEG_VALUE = 1
SEG_SELF_SERVICE = 2
SEG_VOICE = 3
SEG_ABANDON = 4
SEG_EXPECTATION = 5
SEG_TRUST = 6
SEG_SATISFACTION = 7
SEG_CHURN_BIAS = 8
SEG_EFFORT_WEIGHT = 9
SEG_CHURN_SPREAD = 10  # standard deviation of the customers' churn propensity
N_SEG = 11

# -------------------------------------------------------------- scalar parameter vector
(P_KAPPA, P_GAMMA, P_LAMBDA, P_RHO, P_SHOCK, P_ALPHA, P_BETA, P_DELTA,
 P_TRUST_GAIN, P_TRUST_LOSS, P_TRUST_TOL, P_TRUST_BREACH, P_FAIL_PENALTY, P_CAUGHT_TRUST,
 P_NURTURE_TRUST, P_NURTURE_MOOD,
 P_SS_EFFORT, P_SS_FAIL_EFFORT, P_CONTACT_EFFORT, P_WAIT_EFFORT, P_SILENT_EFFORT,
 P_SILENT_MOOD, P_EFFORT_DECAY, P_KB_BASE,
 P_BASE_CAPACITY, P_COST_PER_CONTACT, P_FCR, P_FCR_MAX, P_RECOVERY, P_RECOVERY_MAX,
 P_RECOVERY_SALIENCE, P_BURNOUT_RATE, P_BURNOUT_HEAL, P_BURNOUT_PENALTY,
 P_C0, P_CS, P_CTAU, P_CEFFORT, P_CISSUE, P_CCOMP, P_COMP_GROWTH, P_PEAK_W, P_END_W,
 P_SILENT_THRESHOLD, P_SILENT_RATE,
 P_ARRIVAL_BASE, P_REFERRAL, P_DETRACTOR, P_REF_TRUST, P_REF_EXPECTATION,
 P_LTR_S, P_LTR_TRUST, P_LTR_MOOD,
 P_BURN_IN, P_TENURE_SPREAD,
 P_FIXED_COST, P_WEEKLY_DISCOUNT, P_ENTRY, P_COHORT, P_HORIZON,
 P_VOICE_SEVERITY, P_VOICE_EFFORT, P_FADE_RATE) = range(63)
N_PAR = 63

# ------------------------------------------------------------------------------ levers
CAPACITY, TRAINING, RECOVERY, STAFF, RELIABILITY, CONSISTENCY, OUTREACH, SELF_SERVICE, \
    RELATIONSHIP, FRONTLINE = range(10)
N_LEVERS = 10
LV_DEPRECIATION = 0
LV_SCALE = 1          # for capacity: the weekly cost of one contact slot
LV_CEILING = 2
N_LV = 3

# ------------------------------------------------- company state: stocks, effects, burnout
STOCK = 0             # STOCK + lever: the lever's stock
EFFECT = N_LEVERS     # EFFECT + lever: its effect (for capacity: extra contact slots)
BURNOUT = 2 * N_LEVERS
SPEND = 2 * N_LEVERS + 1  # this step's total lever spend
COHORT_SIZE = 2 * N_LEVERS + 2  # customers active at week 0: cohort_retention's denominator
PHASE = 2 * N_LEVERS + 3  # the strategy's phase this week (-1 in a warm start's burn-in)
TRIGGERS = 2 * N_LEVERS + 4  # the triggers active this week: bit k for trigger k
# what the company saw of last week (``rules.observe_week``): the observables a trigger
# reads (SEEN + OB_*), last week's revenue (a budget may be a share of it), its active
# customers, and a ring of the last MAX_WINDOW weeks' churned and exposed counts (the
# rolling churn rate)
SEEN = 2 * N_LEVERS + 5
OBSERVABLES = ("backlog", "wait", "burnout", "contacts", "nps", "churn_rate")
OB_BACKLOG, OB_WAIT, OB_BURNOUT, OB_CONTACTS, OB_NPS, OB_CHURN_RATE = range(6)
SEEN_REVENUE = SEEN + 6
SEEN_ACTIVE = SEEN + 7
MAX_WINDOW = 52       # the longest window of a rolling churn rate, in weeks
RING_POS = SEEN + 8
RING_CHURNED = SEEN + 9
RING_EXPOSED = RING_CHURNED + MAX_WINDOW
N_COMPANY = RING_EXPOSED + MAX_WINDOW

# --------------------------------------- the strategy over time: the weekly spending plan
# plan[w]: week w's spend per lever before triggers: a fixed amount plus a share of last
# week's revenue (``PL_SHARE``), and the phase it belongs to (a ramp week: the phase ramped to)
PL_FIXED = 0
PL_SHARE = N_LEVERS
PL_PHASE = 2 * N_LEVERS
N_PLAN = 2 * N_LEVERS + 1
# triggers[k]: trigger k (rows unused when TG_USED is 0): what it observes, whether it enters
# above (1) or below (0) its enter level, the levels, the share of the budget it moves, the
# churn rate's window, then the moved share's split over the levers
MAX_TRIGGERS = 8
TG_USED, TG_OBSERVE, TG_ABOVE, TG_ENTER, TG_LEAVE, TG_SHARE, TG_WINDOW = range(7)
TG_LEVERS = 7
N_TG = TG_LEVERS + N_LEVERS

# -------------------------------------------------------------- per-step tallies (counts)
T_CAUGHT = 0
T_SELF_SERVED = 1
T_CONTACTS = 2
T_SERVED = 3
T_RESOLVED = 4
T_WAIT_SUM = 5
T_CHURNED = 6
T_FAILURES = 7
N_TALLY = 8

# ------------------------------------------------------ per-step outputs (MODEL.md's names)
STEP_COLUMNS = (
    "step", "active", "cohort_active", "cohort_retention", "arrivals", "churned",
    "mood", "expectation", "satisfaction", "trust", "effort", "nps", "csat",
    "contacts", "served", "backlog", "wait", "resolution_rate", "caught", "self_served",
    "burnout", "revenue", "cost", "profit", "cohort_revenue", "failures",
    "spend", "phase", "triggers",
)
(O_STEP, O_ACTIVE, O_COHORT_ACTIVE, O_RETENTION, O_ARRIVALS, O_CHURNED,
 O_MOOD, O_EXPECTATION, O_SATISFACTION, O_TRUST, O_EFFORT, O_NPS, O_CSAT,
 O_CONTACTS, O_SERVED, O_BACKLOG, O_WAIT, O_RESOLUTION, O_CAUGHT, O_SELF_SERVED,
 O_BURNOUT, O_REVENUE, O_COST, O_PROFIT, O_COHORT_REVENUE, O_FAILURES,
 O_SPEND, O_PHASE, O_TRIGGERS) = range(29)
N_OUT = 29
#: what a week did (its events, their rates, its spend, cost and profit, and the phase and
#: triggers it ran under): row 0, the start before any week, holds 0 for these, not a week
WEEKLY_FLOW_COLUMNS = ("arrivals", "churned", "contacts", "served", "wait", "resolution_rate",
                       "caught", "self_served", "cost", "profit", "failures", "spend", "phase",
                       "triggers")
#: per-run totals over the weeks lived (``results.run_summary``), beside the horizon's row
RUN_TOTALS = ("profit_total", "profit_npv", "cost_total", "spend_total", "revenue_total",
              "profit_per_cost", "clv")
# ------------------------------------------------------- per-customer events (columns)
# join and churn in weeks from week 0 (negative: before it, in a warm start's burn-in)
EV_JOIN, EV_CHURN, EV_SEGMENT, EV_REFERRED = range(4)
N_EVENT = 4
STILL_ACTIVE = -(2**62)  # EV_CHURN of a customer who has not left

INTEGER_COLUMNS = ("step", "active", "cohort_active", "arrivals", "churned", "contacts",
                   "served", "backlog", "caught", "self_served", "failures", "phase",
                   "triggers")

# ------------------------------------------- diagnostics: per-customer records (optional)
# ``rules`` writes them only when the run records diagnostics (see ``simulation.diagnostics``);
# every value is a float64 column of a (rows, width) table, integers held exactly.

# one row per issue episode: from the failure that opens an issue to its end
(EP_CUSTOMER, EP_SEGMENT, EP_OPENED, EP_TOUCHPOINT, EP_SEVERITY, EP_OUTCOME, EP_CLOSED,
 EP_CONTACTS, EP_SERVED, EP_GAVE_UP, EP_S_BEFORE, EP_S_AFTER) = range(12)
N_EPISODE = 12
# how an episode ended (EP_OUTCOME)
OUTCOME_OPEN, OUTCOME_SELF_SERVICE, OUTCOME_DESK, OUTCOME_LEFT, OUTCOME_FADED = range(5)
OUTCOME_NAMES = ("open", "self_service", "desk", "left", "faded")

# one row per decision at a decision touchpoint, and per silent exit
(DC_CUSTOMER, DC_SEGMENT, DC_WEEK, DC_KIND, DC_SATISFACTION, DC_TRUST, DC_EFFORT,
 DC_PEAK_END, DC_PROBABILITY, DC_LEFT, DC_CYCLE) = range(11)
N_DECISION = 11
KIND_DECISION, KIND_SILENT_EXIT = range(2)
KIND_NAMES = ("decision", "silent_exit")
# CYCLE_EVENTS / DC_CYCLE bits: since the customer's last decision they had ...
CY_FAILURE = 1        # ... an issue opened
CY_CONTACT = 2        # ... a desk contact (a first voice or a repeat contact)
CY_RECOVERY = 4       # ... an issue resolved by the desk (a recovery)

# the recorder's state: per table (offset DG_EPISODES or DG_DECISIONS) rows kept, rows
# dropped, the first row of this week, and whether the table overflowed (DG_FULL: 0 not,
# 1 in this week, 2 in an earlier week); then the share of customers sampled
DG_EPISODES = 0
DG_DECISIONS = 4
DG_ROWS, DG_DROPPED, DG_WEEK_START, DG_FULL = range(4)
DG_SAMPLE = 8
N_DIAG = 9

# per segment and week (a (segments, N_SEGMENT_OUT) block per week)
SG_ACTIVE, SG_ARRIVALS, SG_COHORT_ACTIVE, SG_PROMOTERS, SG_DETRACTORS, SG_REVENUE = range(6)
N_SEGMENT_OUT = 6
