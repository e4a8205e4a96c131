// ISO 8601 durations of rotation policies: accepted forms, calendar arithmetic, refused forms.
using Ironclad.KeyVault.Keys;

namespace Ironclad.KeyVault.Tests;

public sealed class Iso8601DurationTests
{
    [Theory]
    [InlineData("P90D", 90, 0)]
    [InlineData("P1W", 7, 0)]
    [InlineData("PT48H", 2, 0)]
    [InlineData("P1Y10D", 375, 0)]
    [InlineData("P3M", 90, 0)]
    [InlineData("P1DT1H1M1S", 1, 3661)]
    public void Accepted_durations_have_the_expected_approximate_length(string text, int days, int seconds)
    {
        Assert.True(Iso8601Duration.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromDays(days) + TimeSpan.FromSeconds(seconds), duration.Approximate);
    }

    [Fact]
    public void Months_and_years_are_calendar_months_and_years()
    {
        Assert.True(Iso8601Duration.TryParse("P1M", out var month));
        var jan31 = new DateTimeOffset(2027, 1, 31, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2027, 2, 28, 8, 0, 0, TimeSpan.Zero), month.AddTo(jan31));
        Assert.True(Iso8601Duration.TryParse("P1Y", out var year));
        Assert.Equal(new DateTimeOffset(2029, 2, 28, 0, 0, 0, TimeSpan.Zero), year.AddTo(new DateTimeOffset(2028, 2, 29, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(jan31, month.SubtractFrom(new DateTimeOffset(2027, 2, 28, 8, 0, 0, TimeSpan.Zero)).AddDays(3));
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("P1DT")]
    [InlineData("90D")]
    [InlineData("P-1D")]
    [InlineData("P1.5D")]
    [InlineData("P1D1Y")]
    [InlineData("p90d")]
    [InlineData("P90D ")]
    public void Malformed_durations_are_refused(string text) => Assert.False(Iso8601Duration.TryParse(text, out _));
}
