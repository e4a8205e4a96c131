// Source-generated JSON metadata for every wire type of the control plane, with Azure's
// conventions: camelCase names, null members omitted.
using System.Text.Json;
using System.Text.Json.Serialization;
using Ironclad.ControlPlane.Errors;
using Ironclad.ControlPlane.Health;

namespace Ironclad.ControlPlane;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthStatus))]
internal sealed partial class ControlPlaneJsonContext : JsonSerializerContext;
