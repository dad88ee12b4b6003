//! Reading and validating plans.

use super::*;
use hub_contracts::v1::indicator::Comparison;

fn builtin_parts(rel: &str) -> Result<String, String> {
    builtin_file(rel)
}

fn parse_edited(from: &str, to: &str) -> Result<Plan, PlanError> {
    assert!(BUILTIN_PLAN.contains(from), "{from:?} is in the plan");
    Plan::parse(
        &BUILTIN_PLAN.replacen(from, to, 1),
        "x.toml",
        &builtin_parts,
    )
}

#[test]
fn the_lai_chau_plan_has_the_targets_of_the_plan_table() {
    let plan = Plan::builtin().expect("built-in plan is valid");
    assert_eq!(plan.id, "lai-chau-182");
    assert_eq!(
        plan.baseline,
        NaiveDate::from_ymd_opt(2024, 2, 20).expect("date")
    );
    assert_eq!(plan.indicators.len(), 10);
    let t = |id: &str| {
        let i = plan.indicator(id).expect("listed");
        (
            i.target_2025.map(|t| (t.comparison, t.value, t.unit)),
            i.target_2030.map(|t| (t.comparison, t.value, t.unit)),
        )
    };
    use Comparison::{Ge, Gt};
    use ValueUnit::{Count, Percent};
    assert_eq!(t("I1"), (Some((Gt, 3.0, Count)), Some((Ge, 10.0, Count))));
    assert_eq!(
        t("I3"),
        (Some((Ge, 100.0, Percent)), Some((Gt, 15.0, Count)))
    );
    assert_eq!(
        t("I7"),
        (Some((Gt, 50.0, Percent)), Some((Gt, 70.0, Percent)))
    );
    assert_eq!(t("I10"), (None, None));
    assert!(plan.indicator("I10").expect("I10").is_context());

    let u24 = plan.units(UnitList::Units2024);
    assert_eq!(u24.rows.len(), 1 + 8 + 106);
    assert_eq!(u24.rows[0].code, "12");
    assert_eq!(
        u24.containing["03421"].len(),
        3,
        "province, district, commune"
    );
    let u25 = plan.units(UnitList::Units2025);
    assert_eq!(u25.rows.len(), 1 + 38);
    // Bản Hon (03421) became part of Xã Khun Há (03430)
    let within: Vec<&str> = u25.containing["03421"]
        .iter()
        .map(|&i| u25.rows[i].code.as_str())
        .collect();
    assert_eq!(within, vec!["12", "03430"]);
}

#[test]
fn the_folder_in_deploy_equals_the_built_in_plan() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans/lai-chau");
    let mut from_file = Plan::load(&path).expect("deploy plan is valid");
    from_file.source = BUILTIN_PLAN_NAME.into();
    assert_eq!(from_file, Plan::builtin().expect("valid"));
}

#[test]
fn invalid_plans_name_the_file_the_field_and_what_was_expected() {
    let e = parse_edited(
        "comparison = \">\", value = 3",
        "comparison = \"=>\", value = 3",
    )
    .expect_err("bad comparison");
    assert_eq!(e.file, "x.toml");
    assert_eq!(e.field, "indicators[0].targets[0].comparison");
    assert!(e.problem.contains("expected \">\" or \">=\""), "{e}");

    let e = parse_edited("baseline = \"2024-02-20\"", "baseline = \"20/02/2024\"")
        .expect_err("bad date");
    assert_eq!(e.field, "baseline");
    assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");

    let e = parse_edited("id = \"I4\"", "id = \"I 4\"").expect_err("not an identifier");
    assert_eq!(e.field, "indicators[3].id");

    let e = parse_edited("id = \"I4\"", "id = \"I1\"").expect_err("twice");
    assert!(e.problem.contains("twice"), "{e}");

    let e = parse_edited(
        "id = \"I1\"\nname = \"New HTX established with FU support\"\nname_vi = \"HTX thành lập mới do Hội Nông dân hỗ trợ\"\nunit = \"count\"",
        "id = \"I1\"\nname = \"New HTX established with FU support\"\nname_vi = \"HTX thành lập mới do Hội Nông dân hỗ trợ\"\nunit = \"percent\"",
    )
    .expect_err("wrong unit");
    assert_eq!(e.field, "indicators[0].numerator");
    assert!(e.problem.contains("numerator and denominator"), "{e}");

    let e =
        parse_edited("\">=\", value = 70,", "\">=\", value = 170,").expect_err("percent over 100");
    assert_eq!(e.field, "indicators[8].targets[0].value");

    let e = parse_edited(
        "value = 3, unit = \"count\"",
        "value = \"three\", unit = \"count\"",
    )
    .expect_err("not a number");
    assert!(e.field.contains("targets"), "{e}");
    assert!(e.field.contains("value"), "{e}");

    let e = parse_edited(
        "province_code = \"12\"",
        "province_code = \"12\"\ncolour = \"red\"",
    )
    .expect_err("unknown field");
    assert!(e.problem.contains("colour"), "{e}");

    let e = parse_edited(
        "units_2025 = \"units-2025.csv\"",
        "units_2025 = \"nowhere.csv\"",
    )
    .expect_err("missing unit file");
    assert_eq!(e.field, "units.units_2025");

    let e = Plan::load(Path::new("/nonexistent/plan.toml")).expect_err("no file");
    assert!(e.to_string().contains("/nonexistent/plan.toml"), "{e}");
}

#[test]
fn a_crosswalk_that_misses_a_commune_is_refused() {
    let read = |rel: &str| -> Result<String, String> {
        let text = builtin_parts(rel)?;
        if rel.ends_with("crosswalk-2025.csv") {
            // drop Bản Hon's row
            Ok(text
                .lines()
                .filter(|l| !l.starts_with("03421,"))
                .collect::<Vec<_>>()
                .join("\n"))
        } else {
            Ok(text)
        }
    };
    let e = Plan::parse(BUILTIN_PLAN, "x.toml", &read).expect_err("incomplete crosswalk");
    assert_eq!(e.field, "units.crosswalk_2025");
    assert!(e.problem.contains("03421"), "{e}");
}

#[test]
fn invalid_measures_name_the_indicator_and_the_term() {
    let e = parse_edited("count = \"communes\", where", "count = \"villages\", where")
        .expect_err("unknown entity");
    assert_eq!(e.field, "indicators[9].numerator");
    assert!(e.problem.contains("villages"), "{e}");

    let e = parse_edited(
        "sum = \"organisations.member_households\"",
        "sum = \"organisations.hectares\"",
    )
    .expect_err("unknown field");
    assert_eq!(e.field, "indicators[3].value");

    let e = parse_edited("where = { converted = true }", "where = { live = true }")
        .expect_err("an organisation's filter on union branches");
    assert_eq!(e.field, "indicators[4].numerator");

    let e =
        parse_edited("rated = true", "rated = true, colour = \"red\"").expect_err("unknown filter");
    assert!(e.field.contains("denominator"), "{e}");
    assert!(e.problem.contains("colour"), "{e}");

    let e = parse_edited(
        "kind = [\"HTX\"], rating",
        "kind = [\"HTX\"], ntm_criterion_met = \"13.1\", rating",
    )
    .expect_err("a commune filter on organisations");
    assert_eq!(e.field, "indicators[2].numerator");

    let e = parse_edited(
        "{ year = 2030, comparison = \">=\", value = 10, unit = \"count\" },",
        "{ year = 2025, comparison = \">=\", value = 10, unit = \"count\" },",
    )
    .expect_err("two targets a year");
    assert_eq!(e.field, "indicators[0].targets");
}

#[test]
fn targets_of_any_year_and_of_districts_are_read() {
    let plan = parse_edited(
        "  { year = 2030, comparison = \">=\", value = 10, unit = \"count\" },\n]",
        "  { year = 2030, comparison = \">=\", value = 10, unit = \"count\" },\n  { year = 2027, comparison = \">=\", value = 6, unit = \"count\" },\n]\ndistrict_targets = { \"105\" = [{ year = 2025, comparison = \">=\", value = 1, unit = \"count\" }] }",
    )
    .expect("valid");
    let i1 = plan.indicator("I1").expect("I1");
    let years: Vec<i32> = i1.targets.iter().map(|t| t.year).collect();
    assert_eq!(years, vec![2025, 2027, 2030]);
    assert_eq!(i1.target_2030.map(|t| t.value), Some(10.0));
    assert_eq!(i1.district_targets["105"][0].value, 1.0);

    let e = parse_edited(
        "targets = [\n  { year = 2025, comparison = \">\", value = 3",
        "district_targets = { \"999\" = [] }\ntargets = [\n  { year = 2025, comparison = \">\", value = 3",
    )
    .expect_err("no such district");
    assert_eq!(e.field, "indicators[0].district_targets");
}

#[test]
fn the_folder_keeps_the_reference_units_hub_normalise_embeds() {
    // hub-normalise embeds deploy/reference/; the folder must hold the same units
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for (folder, reference) in [
        ("units-2024.csv", "lai-chau-units-2024.csv"),
        ("units-2025.csv", "lai-chau-units-2025.csv"),
        ("crosswalk-2025.csv", "lai-chau-crosswalk-2025.csv"),
    ] {
        let a = std::fs::read_to_string(root.join("plans/lai-chau").join(folder)).expect("read");
        let b = std::fs::read_to_string(root.join("reference").join(reference)).expect("read");
        assert_eq!(a, b, "{folder} differs from deploy/reference/{reference}");
    }
}
