"""Regenerate the synthetic, recorded-style TAP fixtures (see README.md); not run by the tests."""

import sys

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io.votable import from_table
from astropy.io.votable.tree import Info
from astropy.table import MaskedColumn, Table

out = "tests/data/tap/"
rng = np.random.default_rng(6)


def write(t, name, desc):
    vot = from_table(t)
    res = vot.resources[0]
    res.type = "results"
    res.infos.append(Info(name="QUERY_STATUS", value="OK"))
    vot.resources[0].tables[0].description = desc
    vot.to_xml(out + name)


# Hunt & Reffert members (VizieR names). 3 clusters, 14 rows.
centres = {
    "IC_348": (56.132, 32.159),
    "Melotte_22": (56.750, 24.117),
    "NGC_2682": (132.846, 11.814),
}
rows = []
recno = 0
for name, (ra0, de0) in centres.items():
    for j in range(5 if name != "NGC_2682" else 4):
        recno += 1
        ra = ra0 + rng.uniform(-0.2, 0.2)
        de = de0 + rng.uniform(-0.2, 0.2)
        prob = [0.98, 0.91, 0.74, 0.55, 0.31][j]
        rows.append(
            (
                recno * 10,
                name,
                216000000000000000 + recno,
                ra,
                de,
                prob,
                10 + j * 1.5 + rng.uniform(0, 1),
            )
        )
m = Table(
    rows=rows,
    names=["recno", "Name", "GaiaDR3", "RA_ICRS", "DE_ICRS", "Prob", "Gmag"],
    dtype=["i4", "U20", "i8", "f8", "f8", "f8", "f8"],
)
m["RA_ICRS"].unit = "deg"
m["DE_ICRS"].unit = "deg"
m["Gmag"].unit = "mag"
write(m, "hr_members.xml", "J/A+A/686/A42/members (recorded-style excerpt, synthetic rows)")

c = Table(
    rows=[
        ("IC_348", "o", 1195, 315.2, 6.61, 2.6),
        ("Melotte_22", "o", 1721, 135.4, 7.88, 0.12),
        ("NGC_2682", "o", 1844, 838.0, 9.63, 0.13),
        ("Blanco_1", "o", 616, 236.6, 8.02, 0.04),
    ],
    names=["Name", "Type", "N", "dist50", "logAge50", "AV50"],
    dtype=["U20", "U1", "i4", "f8", "f8", "f8"],
)
c["dist50"].unit = "pc"
c["AV50"].unit = "mag"
write(c, "hr_clusters.xml", "J/A+A/686/A42/clusters (recorded-style excerpt)")

# SEIP rows: counterparts of members with Prob >= 0.5 (offsets 0.3-1.5"), plus decoys.
sys.path.insert(0, "src")
from wise2spitzer.irsa import ALLWISE_COLUMNS, SEIP_COLUMNS  # noqa: E402 (needs src/ first)

seip_rows = []
aw_rows = []


def offset(ra, de, arcsec, pa):
    c = SkyCoord(ra * u.deg, de * u.deg).directional_offset_by(pa * u.deg, arcsec * u.arcsec)
    return c.ra.deg, c.dec.deg


k = 0
for r in m:
    k += 1
    if r["recno"] == 90:  # a member with no SEIP source (outside Spitzer coverage)
        continue
    sra, sde = offset(r["RA_ICRS"], r["DE_ICRS"], 0.3 + 0.1 * k, 40 * k)
    seip_rows.append((sra, sde, k))
    if r["recno"] == 20:  # a second, farther SEIP source within 2": the nearest must win
        seip_rows.append(offset(r["RA_ICRS"], r["DE_ICRS"], 1.9, 200) + (100 + k,))
    if r["recno"] == 40:  # a source just outside 2"
        seip_rows.append(offset(r["RA_ICRS"], r["DE_ICRS"], 3.0, 10) + (200 + k,))
cols = {}
n = len(seip_rows)


def fill(name, values, mask=None):
    cols[name] = MaskedColumn(
        values, mask=mask if mask is not None else np.zeros(len(values), bool)
    )


ra = np.array([s[0] for s in seip_rows])
de = np.array([s[1] for s in seip_rows])
tag = np.array([s[2] for s in seip_rows])
sc = SkyCoord(ra * u.deg, de * u.deg)
fill(
    "objid",
    np.array(
        [f"SSTSL2 J{c.to_string('hmsdms', sep='', precision=2).replace(' ', '')}" for c in sc]
    ),
)
fill("ra", ra)
fill("dec", de)
fill("l", sc.galactic.l.deg)
fill("b", sc.galactic.b.deg)
fill("nbands", rng.integers(2, 7, n))
w4 = 10 ** rng.uniform(2.5, 5, n)
nowise = tag == 7  # a SEIP source without a WISE association
for i in range(1, 5):
    f = 10 ** rng.uniform(3, 6, n)
    fill(f"i{i}_f_ap1", f, rng.random(n) < 0.2)
    fill(f"i{i}_df_ap1", f * 0.03)
    fill(f"i{i}_snr", f / (f * 0.03))
    fill(f"i{i}_fluxtype", np.ones(n, int))
m1 = 10 ** rng.uniform(3, 5, n)
has_m1 = rng.random(n) < 0.5
fill("m1_f_psf", m1, ~has_m1)
fill("m1_df_psf", m1 * 0.02, ~has_m1)
fill("m1_snr", np.full(n, 30.0), ~has_m1)
fill("m1_fluxtype", np.where(has_m1, 1, 3))
for b in "jhk":
    f = 10 ** rng.uniform(4, 6, n)
    fill(b, f)
    fill("d" + b, f * 0.02)
fill("wise_key", np.arange(n) + 1000, nowise)
wra, wde = zip(*[offset(a, d, 0.2, 90) for a, d in zip(ra, de, strict=True)], strict=True)
fill("wise_ra", np.array(wra), nowise)
fill("wise_dec", np.array(wde), nowise)
for i in range(1, 5):
    f = w4 * (3.0 ** (4 - i))
    fill(f"wise{i}", f, nowise)
    fill(f"dwise{i}", f * 0.05, nowise | ((i == 4) & (np.arange(n) % 4 == 0)))
fill("wise_cc_flags", np.array(["0000"] * n), nowise)
fill("wise_ext_flg", np.zeros(n, int), nowise)
fill("wise_ph_qual", np.array(["AAAB"] * n), nowise)
for q in ("rchi2", "m", "nm"):
    for i in range(1, 5):
        v = rng.uniform(0.5, 2, n) if q == "rchi2" else rng.integers(10, 30, n)
        fill(f"wise{i}{q}", v, nowise)
seip = Table([cols[c] for c in SEIP_COLUMNS], names=SEIP_COLUMNS)
for c in SEIP_COLUMNS:
    if (
        c.startswith(
            (
                "i",
                "m1",
                "j",
                "h",
                "k",
                "dj",
                "dh",
                "dk",
                "wise1",
                "wise2",
                "wise3",
                "wise4",
                "dwise",
            )
        )
        and "fluxtype" not in c
        and "snr" not in c
        and "rchi2" not in c
        and not c.endswith(("m", "nm"))
    ):
        seip[c].unit = "uJy"
for c in ("ra", "dec", "l", "b", "wise_ra", "wise_dec"):
    seip[c].unit = "deg"
# SEIP integer columns may hold a sentinel instead of a null: one row of each value.
seip["wise4nm"][0] = -9999
seip["nbands"][1] = -9
seip["m1_fluxtype"][2] = -99
write(
    seip,
    "slphotdr4.xml",
    "IRSA slphotdr4 (recorded-style excerpt, synthetic rows, documented column names)",
)
print(len(seip), "seip rows")

# AllWISE: one source at each SEIP WISE position (cc_flags varied), plus one near the member
# without SEIP (recno 90) and one near the SEIP source without a WISE association.
arow = []
for j in range(n):
    if nowise[j]:
        a, d = offset(ra[j], de[j], 0.4, 0)
    else:
        a, d = offset(wra[j], wde[j], 0.1, 0)
    arow.append((a, d, j))
r90 = m[m["recno"] == 90][0]
a, d = offset(r90["RA_ICRS"], r90["DE_ICRS"], 0.5, 120)
arow.append((a, d, -1))
na = len(arow)
ara = np.array([x[0] for x in arow])
ade = np.array([x[1] for x in arow])
asc = SkyCoord(ara * u.deg, ade * u.deg)
acols = {}
acols["designation"] = [
    f"J{c.to_string('hmsdms', sep='', precision=2).replace(' ', '')}"[:19] for c in asc
]
acols["ra"] = ara
acols["dec"] = ade
acols["cc_flags"] = ["0000" if j % 5 else "00dh" for j in range(na)]
acols["ext_flg"] = [0 if j % 6 else 1 for j in range(na)]
for i in range(1, 5):
    acols[f"w{i}snr"] = rng.uniform(1.5, 60, na)
for i in range(1, 5):
    acols[f"w{i}mpro"] = rng.uniform(6, 14, na)
for i in range(1, 5):
    acols[f"w{i}sigmpro"] = rng.uniform(0.02, 0.2, na)
for i in range(1, 5):
    acols[f"w{i}rchi2"] = rng.uniform(0.5, 3, na)
for i in range(1, 5):
    acols[f"w{i}m"] = rng.integers(10, 40, na)
for i in range(1, 5):
    acols[f"w{i}nm"] = rng.integers(0, 40, na)
# ph_qual from the SNR (A >= 10, B >= 3, C >= 2, U below, with a null w#sigmpro as AllWISE
# has for its 95% upper limits), then one "Z" band: a measurement whose w#sigmpro is null too.
letters = np.array(
    [
        ["A" if x >= 10 else "B" if x >= 3 else "C" if x >= 2 else "U" for x in acols[f"w{i}snr"]]
        for i in range(1, 5)
    ]
).T
z_row = int(np.flatnonzero(nowise)[0])  # AllWISE photometry fills this SEIP row in a fetch
letters[z_row, 3] = "Z"
acols["w4snr"][z_row] = 8.0
letters[na - 1, 3] = "U"  # the source near member recno 90 (no SEIP): a W4 upper limit
acols["w4snr"][na - 1] = 1.2
acols["ph_qual"] = ["".join(q) for q in letters]
for i in range(1, 5):
    null = (letters[:, i - 1] == "U") | (letters[:, i - 1] == "Z")
    acols[f"w{i}sigmpro"] = MaskedColumn(acols[f"w{i}sigmpro"], mask=null)
aw = Table([acols[c] for c in ALLWISE_COLUMNS], names=ALLWISE_COLUMNS)
for c in ("ra", "dec"):
    aw[c].unit = "deg"
for i in range(1, 5):
    aw[f"w{i}mpro"].unit = "mag"
    aw[f"w{i}sigmpro"].unit = "mag"
write(
    aw,
    "allwise_p3as_psd.xml",
    "IRSA allwise_p3as_psd (recorded-style excerpt, synthetic rows, documented column names)",
)
print(na, "allwise rows")
