// IResourceManagerStore on the shared metadata database (tables prefixed "arm_", migrated under
// component "arm"). Invariants: case-insensitive identity through upper-cased key columns (so
// "RG1" and "rg1" are one group) while display columns keep the original casing; each method is
// one statement or one transaction, so concurrent requests never see half a change.
using System.Globalization;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.ResourceManager.Storage;

public sealed class SqliteResourceManagerStore : IResourceManagerStore
{
    public const string Component = "arm";

    /// <summary>Append-only: never edit a released migration.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE arm_subscriptions (
            subscription_id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            display_name TEXT NOT NULL,
            state TEXT NOT NULL);
        CREATE TABLE arm_resource_groups (
            subscription_id TEXT NOT NULL REFERENCES arm_subscriptions (subscription_id),
            name_key TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,
            managed_by TEXT,
            PRIMARY KEY (subscription_id, name_key));
        CREATE TABLE arm_role_assignments (
            name TEXT PRIMARY KEY,
            scope TEXT NOT NULL,
            scope_key TEXT NOT NULL,
            role_definition_id TEXT NOT NULL,
            principal_id TEXT NOT NULL,
            principal_type TEXT NOT NULL,
            description TEXT,
            created_on INTEGER NOT NULL,
            updated_on INTEGER NOT NULL,
            created_by TEXT,
            updated_by TEXT);
        CREATE INDEX arm_role_assignments_scope ON arm_role_assignments (scope_key);
        CREATE INDEX arm_role_assignments_principal ON arm_role_assignments (principal_id, scope_key);
        CREATE TABLE arm_activity (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            timestamp_ms INTEGER NOT NULL,
            subscription_id TEXT,
            caller_oid TEXT,
            caller_appid TEXT,
            operation_name TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            resource_key TEXT NOT NULL,
            http_method TEXT NOT NULL,
            status_code INTEGER NOT NULL,
            result TEXT NOT NULL,
            correlation_id TEXT NOT NULL,
            error_code TEXT);
        CREATE INDEX arm_activity_time ON arm_activity (timestamp_ms);
        """,
    ];

    private readonly MetadataDatabase _database;

    public SqliteResourceManagerStore(MetadataDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _database.Migrate(Component, Migrations);
    }

    // ── subscriptions ──────────────────────────────────────────────────────────────────────────

    public bool TryAddSubscription(Subscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return Execute(
            "INSERT INTO arm_subscriptions (subscription_id, tenant_id, display_name, state) VALUES ($s, $t, $n, $st) ON CONFLICT DO NOTHING",
            ("$s", G(subscription.SubscriptionId)), ("$t", G(subscription.TenantId)), ("$n", subscription.DisplayName), ("$st", subscription.State)) == 1;
    }

    public Subscription? GetSubscription(Guid subscriptionId) =>
        Query("SELECT subscription_id, tenant_id, display_name, state FROM arm_subscriptions WHERE subscription_id = $s",
            ReadSubscription, ("$s", G(subscriptionId))).FirstOrDefault();

    public IReadOnlyList<Subscription> ListSubscriptions() =>
        Query("SELECT subscription_id, tenant_id, display_name, state FROM arm_subscriptions ORDER BY subscription_id", ReadSubscription);

    private static Subscription ReadSubscription(SqliteDataReader r) =>
        new(Guid.Parse(r.GetString(0)), Guid.Parse(r.GetString(1)), r.GetString(2), r.GetString(3));

    // ── resource groups ────────────────────────────────────────────────────────────────────────

    public bool UpsertResourceGroup(ResourceGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        var exists = Scalar(connection, transaction, "SELECT COUNT(*) FROM arm_resource_groups WHERE subscription_id = $s AND name_key = $k",
            ("$s", G(group.SubscriptionId)), ("$k", Key(group.Name))) is long n && n > 0;
        var sql = exists
            ? "UPDATE arm_resource_groups SET location = $l, tags = $t, managed_by = $m WHERE subscription_id = $s AND name_key = $k"
            : "INSERT INTO arm_resource_groups (subscription_id, name_key, name, location, tags, managed_by) VALUES ($s, $k, $n, $l, $t, $m)";
        Execute(connection, transaction, sql,
            ("$s", G(group.SubscriptionId)), ("$k", Key(group.Name)), ("$n", group.Name), ("$l", group.Location),
            ("$t", TagJson.Write(group.Tags)), ("$m", group.ManagedBy));
        transaction.Commit();
        return !exists;
    }

    public ResourceGroup? GetResourceGroup(Guid subscriptionId, string name) =>
        Query("SELECT subscription_id, name, location, tags, managed_by FROM arm_resource_groups WHERE subscription_id = $s AND name_key = $k",
            ReadGroup, ("$s", G(subscriptionId)), ("$k", Key(name))).FirstOrDefault();

    public IReadOnlyList<ResourceGroup> ListResourceGroups(Guid subscriptionId) =>
        Query("SELECT subscription_id, name, location, tags, managed_by FROM arm_resource_groups WHERE subscription_id = $s ORDER BY name_key",
            ReadGroup, ("$s", G(subscriptionId)));

    public bool DeleteResourceGroup(Guid subscriptionId, string name) =>
        Execute("DELETE FROM arm_resource_groups WHERE subscription_id = $s AND name_key = $k", ("$s", G(subscriptionId)), ("$k", Key(name))) > 0;

    private static ResourceGroup ReadGroup(SqliteDataReader r) =>
        new(Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), TagJson.Read(r.GetString(3)), r.IsDBNull(4) ? null : r.GetString(4));

    // ── role assignments ───────────────────────────────────────────────────────────────────────

    private const string AssignmentColumns =
        "name, scope, role_definition_id, principal_id, principal_type, description, created_on, updated_on, created_by, updated_by";

    public bool TryAddRoleAssignment(RoleAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        return Execute(
            $"INSERT INTO arm_role_assignments ({AssignmentColumns}, scope_key) VALUES ($n, $s, $r, $p, $pt, $d, $co, $uo, $cb, $ub, $sk) ON CONFLICT DO NOTHING",
            ("$n", G(assignment.Name)), ("$s", assignment.Scope), ("$r", G(assignment.RoleDefinitionId)), ("$p", G(assignment.PrincipalId)),
            ("$pt", assignment.PrincipalType), ("$d", assignment.Description), ("$co", assignment.CreatedOn.ToUnixTimeMilliseconds()),
            ("$uo", assignment.UpdatedOn.ToUnixTimeMilliseconds()), ("$cb", assignment.CreatedBy is { } cb ? G(cb) : null),
            ("$ub", assignment.UpdatedBy is { } ub ? G(ub) : null), ("$sk", Key(assignment.Scope))) == 1;
    }

    public RoleAssignment? GetRoleAssignment(Guid name) =>
        Query($"SELECT {AssignmentColumns} FROM arm_role_assignments WHERE name = $n", ReadAssignment, ("$n", G(name))).FirstOrDefault();

    public bool DeleteRoleAssignment(Guid name) =>
        Execute("DELETE FROM arm_role_assignments WHERE name = $n", ("$n", G(name))) > 0;

    public IReadOnlyList<RoleAssignment> ListRoleAssignmentsAt(IReadOnlyCollection<string> scopes, Guid? principalId = null)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        if (scopes.Count == 0)
        {
            return [];
        }

        var parameters = new List<(string, object?)>();
        var names = new List<string>();
        foreach (var scope in scopes)
        {
            var parameter = "$s" + names.Count.ToString(CultureInfo.InvariantCulture);
            names.Add(parameter);
            parameters.Add((parameter, Key(scope)));
        }

        var sql = $"SELECT {AssignmentColumns} FROM arm_role_assignments WHERE scope_key IN ({string.Join(", ", names)})";
        if (principalId is { } principal)
        {
            sql += " AND principal_id = $p";
            parameters.Add(("$p", G(principal)));
        }

        return Query(sql + " ORDER BY created_on, name", ReadAssignment, [.. parameters]);
    }

    public IReadOnlyList<RoleAssignment> ListRoleAssignmentsUnder(string scope)
    {
        var key = Key(scope);
        return Query(
            $"SELECT {AssignmentColumns} FROM arm_role_assignments WHERE scope_key = $k OR substr(scope_key, 1, length($p)) = $p ORDER BY created_on, name",
            ReadAssignment, ("$k", key), ("$p", key == "/" ? "/" : key + "/"));
    }

    public int DeleteRoleAssignmentsUnder(string scope)
    {
        var key = Key(scope);
        return Execute("DELETE FROM arm_role_assignments WHERE scope_key = $k OR substr(scope_key, 1, length($p)) = $p",
            ("$k", key), ("$p", key == "/" ? "/" : key + "/"));
    }

    private static RoleAssignment ReadAssignment(SqliteDataReader r) => new(
        Guid.Parse(r.GetString(0)), r.GetString(1), Guid.Parse(r.GetString(2)), Guid.Parse(r.GetString(3)), r.GetString(4),
        r.IsDBNull(5) ? null : r.GetString(5),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)),
        r.IsDBNull(8) ? null : Guid.Parse(r.GetString(8)), r.IsDBNull(9) ? null : Guid.Parse(r.GetString(9)));

    // ── activity log ───────────────────────────────────────────────────────────────────────────

    public void AppendActivity(ActivityEvent activity)
    {
        ArgumentNullException.ThrowIfNull(activity);
        Execute("""
            INSERT INTO arm_activity (event_id, timestamp_ms, subscription_id, caller_oid, caller_appid, operation_name, resource_id,
                resource_key, http_method, status_code, result, correlation_id, error_code)
            VALUES ($e, $t, $s, $o, $a, $op, $r, $rk, $m, $sc, $res, $c, $ec)
            """,
            ("$e", G(activity.EventId)), ("$t", activity.Timestamp.ToUnixTimeMilliseconds()),
            ("$s", activity.SubscriptionId is { } s ? G(s) : null), ("$o", activity.CallerObjectId is { } o ? G(o) : null),
            ("$a", activity.CallerAppId is { } a ? G(a) : null), ("$op", activity.OperationName), ("$r", activity.ResourceId),
            ("$rk", Key(activity.ResourceId)), ("$m", activity.HttpMethod), ("$sc", activity.StatusCode), ("$res", activity.Result),
            ("$c", activity.CorrelationId), ("$ec", activity.ErrorCode));
    }

    public IReadOnlyList<ActivityEvent> QueryActivity(ActivityQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var where = new List<string>();
        var parameters = new List<(string, object?)>();
        if (query.From is { } from)
        {
            where.Add("timestamp_ms >= $from");
            parameters.Add(("$from", from.ToUnixTimeMilliseconds()));
        }

        if (query.To is { } to)
        {
            where.Add("timestamp_ms <= $to");
            parameters.Add(("$to", to.ToUnixTimeMilliseconds()));
        }

        if (query.SubscriptionId is { } sub)
        {
            where.Add("subscription_id = $sub");
            parameters.Add(("$sub", G(sub)));
        }

        if (query.ResourceIdPrefix is { Length: > 0 } prefix)
        {
            var key = Key(prefix).TrimEnd('/');
            where.Add("(resource_key = $rk OR substr(resource_key, 1, length($rp)) = $rp)");
            parameters.Add(("$rk", key));
            parameters.Add(("$rp", key + "/"));
        }

        if (query.CallerObjectId is { } caller)
        {
            where.Add("caller_oid = $oid");
            parameters.Add(("$oid", G(caller)));
        }

        parameters.Add(("$limit", query.Limit));
        var sql = """
            SELECT event_id, timestamp_ms, subscription_id, caller_oid, caller_appid, operation_name, resource_id, http_method,
                status_code, result, correlation_id, error_code FROM arm_activity
            """ + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "") + " ORDER BY seq DESC LIMIT $limit";
        return Query(sql, r => new ActivityEvent(
            Guid.Parse(r.GetString(0)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)),
            r.IsDBNull(2) ? null : Guid.Parse(r.GetString(2)), r.IsDBNull(3) ? null : Guid.Parse(r.GetString(3)),
            r.IsDBNull(4) ? null : Guid.Parse(r.GetString(4)), r.GetString(5), r.GetString(6), r.GetString(7),
            r.GetInt32(8), r.GetString(9), r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)), [.. parameters]);
    }

    // ── helpers ────────────────────────────────────────────────────────────────────────────────

    private static string G(Guid value) => value.ToString("D", CultureInfo.InvariantCulture);

    private static string Key(string value) => value.ToUpperInvariant();

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        return Execute(connection, null, sql, parameters);
    }

    private static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar();
    }

    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        using var command = Command(connection, null, sql, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
