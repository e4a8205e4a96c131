// ISO 8601 durations as rotation policies use them (P90D, P3M, P1Y10D, PT48H; ISO 8601-1:2019
// §5.5.2.4 "PnYnMnDTnHnMnS" and "PnW"), with calendar arithmetic: a month or year is added as
// calendar months/years, not as a fixed number of days. Invariant: only whole, non-negative
// components are accepted, each designator at most once and in order; anything else is a 400.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Ironclad.KeyVault.Keys;

internal sealed partial record Iso8601Duration(int Years, int Months, int Weeks, int Days, int Hours, int Minutes, int Seconds)
{
    [GeneratedRegex(
        @"^P(?:(?<y>\d{1,4})Y)?(?:(?<mo>\d{1,5})M)?(?:(?<w>\d{1,5})W)?(?:(?<d>\d{1,6})D)?(?:T(?:(?<h>\d{1,7})H)?(?:(?<mi>\d{1,9})M)?(?:(?<s>\d{1,9})S)?)?$",
        RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>The length used to compare durations with limits (a year = 365 days, a month = 30 days).</summary>
    public TimeSpan Approximate =>
        TimeSpan.FromDays((Years * 365.0) + (Months * 30.0) + (Weeks * 7.0) + Days) + new TimeSpan(Hours, Minutes, Seconds);

    public static bool TryParse(string? text, out Iso8601Duration duration)
    {
        duration = new Iso8601Duration(0, 0, 0, 0, 0, 0, 0);
        if (text is null || text.Length < 3 || text.EndsWith('T'))
        {
            return false;
        }

        var match = Pattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        duration = new Iso8601Duration(
            Group(match, "y"), Group(match, "mo"), Group(match, "w"), Group(match, "d"), Group(match, "h"), Group(match, "mi"), Group(match, "s"));
        return true;
    }

    /// <summary>Parses <paramref name="text"/> or throws 400 BadParameter naming <paramref name="field"/>.</summary>
    public static Iso8601Duration Parse(string text, string field) =>
        TryParse(text, out var duration)
            ? duration
            : throw KeyVaultException.BadParameter($"The {field} '{text}' is not a valid ISO 8601 duration (e.g. P90D, P3M, P1Y10D, PT48H).");

    public DateTimeOffset AddTo(DateTimeOffset time) =>
        time.AddYears(Years).AddMonths(Months).AddDays((Weeks * 7) + Days).AddHours(Hours).AddMinutes(Minutes).AddSeconds(Seconds);

    public DateTimeOffset SubtractFrom(DateTimeOffset time) =>
        time.AddYears(-Years).AddMonths(-Months).AddDays(-((Weeks * 7) + Days)).AddHours(-Hours).AddMinutes(-Minutes).AddSeconds(-Seconds);

    private static int Group(Match match, string name) =>
        match.Groups[name].Success ? int.Parse(match.Groups[name].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture) : 0;
}
