// The start page: show whether the server and its database answer.
const element = document.getElementById("health-text");
try {
  const response = await fetch("/api/v1/health");
  const body = await response.json();
  element.textContent = response.ok ? `正常 / OK — ${body.database}, ${body.mode}` : `异常 / ${body.error.message}`;
} catch (error) {
  element.textContent = "无法连接 / unreachable";
}
