// Matching of RBAC action strings against the patterns of role definitions, as Azure does it:
// case-insensitive, `*` matches any run of characters (within or across segments), so "*" is
// everything, "*/read" every read, "Microsoft.Authorization/*/Write" every Authorization write.
namespace Ironclad.ResourceManager.Rbac;

public static class ActionPattern
{
    public static bool MatchesAny(IEnumerable<string> patterns, string action)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        return patterns.Any(pattern => Matches(pattern, action));
    }

    /// <summary>Glob match, `*` = any sequence (possibly empty), ordinal ignore case.</summary>
    public static bool Matches(string pattern, string action)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(action);
        var parts = pattern.Split('*');
        if (parts.Length == 1)
        {
            return string.Equals(pattern, action, StringComparison.OrdinalIgnoreCase);
        }

        if (!action.StartsWith(parts[0], StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var position = parts[0].Length;
        for (var i = 1; i < parts.Length - 1; i++)
        {
            var found = action.IndexOf(parts[i], position, StringComparison.OrdinalIgnoreCase);
            if (found < 0)
            {
                return false;
            }

            position = found + parts[i].Length;
        }

        var last = parts[^1];
        return action.Length - position >= last.Length && action.EndsWith(last, StringComparison.OrdinalIgnoreCase);
    }
}
