"""Writes this folder's unit lists and 2025 crosswalk from public packages on PyPI.

Run with three virtual environments' site-packages (see README.md), e.g.:
    python3 derive.py <site-packages of vietnam-provinces==0.6.0> \
        <site-packages of vietnam-provinces==2025.10.1> <site-packages of vietnamadminunits==1.0.4> \
        11 dien_bien tinhdienbien .
Checked on Lai Châu (12 lai_chau tinhlaichau): it reproduces deploy/plans/lai-chau/'s files.
"""
import csv
import json
import pathlib
import sqlite3
import sys

old_pkg, new_pkg, conv_pkg, prov_code, prov_codename, conv_key, out = sys.argv[1:8]
out = pathlib.Path(out)


def flat(site):
    with open(pathlib.Path(site) / 'vietnam_provinces/data/flat-divisions.json') as f:
        return json.load(f)


# pre-reform list: vietnam-provinces 0.6.0 (NSO list of 2025-01-04)
old = sorted(
    (
        ('%03d' % r['district_code'], r['district_name'], '%05d' % r['ward_code'], r['ward_name'])
        for r in flat(old_pkg)
        if r['province_code'] == int(prov_code)
    ),
    key=lambda r: (r[0], r[2]),
)
# post-reform list: vietnam-provinces 2025.10.1
new = sorted(
    ('%05d' % r['code'], r['name']) for r in flat(new_pkg) if r['province_codename'] == prov_codename
)
new_names = dict(new)


def kind(name):
    for prefix, k in (('Xã ', 'xã'), ('Phường ', 'phường'), ('Thị trấn ', 'thị trấn'), ('Đặc khu ', 'đặc khu')):
        if name.startswith(prefix):
            return k
    raise ValueError(name)


# old -> new: vietnamadminunits' converter table (keys) joined to its codes (dataset.db)
conv_dir = pathlib.Path(conv_pkg) / 'vietnamadminunits/data'
db = sqlite3.connect(conv_dir / 'dataset.db')
old_key_code = {
    f'{conv_key}_{dk}_{wk}': code
    for dk, wk, code in db.execute(
        'select districtKey, wardKey, wardCode from admin_units_legacy where provinceKey = ?', (conv_key,)
    )
}
new_key_code = dict(db.execute('select wardKey, wardCode from admin_units where provinceKey = ?', (conv_key,)))
conv = json.load(open(conv_dir / 'converter_2025.json'))
to_new = {}
for new_key, old_keys in conv['DICT_PROVINCE_WARD_NO_DIVIDED'][conv_key].items():
    for k in old_keys:
        to_new[old_key_code[k]] = new_key_code[new_key]
divided = conv['DICT_PROVINCE_WARD_DIVIDED'].get(conv_key, {})
for k, parts in divided.items():
    # an old commune split between new ones: the package's default new unit
    (default,) = [p['newWardKey'] for p in parts if p['isDefaultNewWard']]
    to_new.setdefault(old_key_code[k], new_key_code[default])

assert {c for _, _, c, _ in old} == set(to_new), 'the conversion table covers the pre-reform list'
assert set(to_new.values()) == set(new_names), 'every new unit is reached'


def write(name, header, rows):
    with open(out / name, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(header)
        w.writerows(rows)


write('units-2024.csv', ['district_code', 'district_name', 'commune_code', 'commune_name', 'commune_kind'],
      [(d, dn, c, cn, kind(cn)) for d, dn, c, cn in old])
write('units-2025.csv', ['commune_code', 'commune_name', 'commune_kind'], [(c, n, kind(n)) for c, n in new])
write('crosswalk-2025.csv',
      ['old_commune_code', 'old_commune_name', 'old_district_code', 'new_commune_code', 'new_commune_name'],
      [(c, cn, d, to_new[c], new_names[to_new[c]]) for d, dn, c, cn in sorted(old, key=lambda r: r[2])])
print(f'{len(old)} pre-reform units, {len(new)} post-reform units, {len(divided)} split')
