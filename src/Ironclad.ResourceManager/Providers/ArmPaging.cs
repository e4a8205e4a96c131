// The list shape every ARM collection answers with: {"value":[…],"nextLink":"<absolute url>"} where
// nextLink repeats the request with a `$skiptoken` (the offset of the next page) and is absent on
// the last page. Providers use it too, so every list pages the same way.
using System.Globalization;
using System.Text.Json.Nodes;

namespace Ironclad.ResourceManager.Providers;

public static class ArmPaging
{
    public const string SkipTokenParameter = "$skiptoken";

    /// <summary>
    /// One page of <paramref name="items"/>, starting at the offset in <paramref name="query"/>'s $skiptoken.
    /// <paramref name="requestUri"/> is the absolute request URL without query; the other query parameters are kept.
    /// </summary>
    public static JsonObject Page(IReadOnlyList<JsonNode> items, Uri requestUri, IReadOnlyDictionary<string, string> query, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(requestUri);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var offset = 0;
        if (query.TryGetValue(SkipTokenParameter, out var token)
            && (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset < 0))
        {
            throw new ArmException(400, "InvalidSkipToken", "The $skiptoken is not valid.");
        }

        var value = new JsonArray();
        foreach (var item in items.Skip(offset).Take(pageSize))
        {
            value.Add(item.DeepClone());
        }

        var page = new JsonObject { ["value"] = value };
        if (offset + pageSize < items.Count)
        {
            var parameters = query.Where(p => p.Key != SkipTokenParameter)
                .Append(new KeyValuePair<string, string>(SkipTokenParameter, (offset + pageSize).ToString(CultureInfo.InvariantCulture)))
                .Select(p => p.Key + "=" + Uri.EscapeDataString(p.Value));
            var builder = new UriBuilder(requestUri) { Query = string.Join('&', parameters) };
            page["nextLink"] = builder.Uri.AbsoluteUri;
        }

        return page;
    }
}
