// Seeds for randomised tests: random by default, fixed by IRONCLAD_SEED so a failure can be replayed.
// Invariant: every seed a test uses is printed to the test output and put in its failure messages.
using System.Globalization;
using System.Security.Cryptography;

namespace Ironclad.Crypto.Tests.Support;

internal static class TestSeed
{
    public const string VariableName = "IRONCLAD_SEED";

    public static int FromEnvironmentOrRandom()
    {
        var text = Environment.GetEnvironmentVariable(VariableName);
        var seed = string.IsNullOrEmpty(text)
            ? RandomNumberGenerator.GetInt32(int.MaxValue)
            : int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
        TestContext.Current.TestOutputHelper?.WriteLine($"seed={seed} (replay with {VariableName}={seed})");
        return seed;
    }
}
