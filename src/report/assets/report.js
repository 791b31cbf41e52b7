(function(){
'use strict';
function fmt3(x){
  if(x===null||x===undefined||!isFinite(x))return '\u2014';
  var a=Math.abs(x);
  if(a===0)return '0';
  if(a>=1000)return x.toFixed(0);
  if(a<0.001)return x.toExponential(2);
  return x.toPrecision(3);
}
function pct(x){return (x===null||x===undefined)?'\u2014':(x*100).toFixed(1)+' %';}
function rgba(hex,a){
  var n=parseInt(hex.slice(1),16);
  return 'rgba('+((n>>16)&255)+','+((n>>8)&255)+','+(n&255)+','+a+')';
}
var STOPS=[[0,[215,48,39]],[0.5,[252,141,89]],[0.8,[254,224,139]],[0.9,[145,207,96]],[1,[26,152,80]]];
function heatColor(v){
  v=Math.max(0,Math.min(1,v));
  for(var i=1;i<STOPS.length;i++){
    if(v<=STOPS[i][0]){
      var a=STOPS[i-1],b=STOPS[i],t=(v-a[0])/(b[0]-a[0]);
      var c=a[1].map(function(x,k){return Math.round(x+(b[1][k]-x)*t);});
      return 'rgb('+c.join(',')+')';
    }
  }
  return 'rgb(26,152,80)';
}
var base={animation:false,responsive:true,maintainAspectRatio:false,
  plugins:{legend:{labels:{boxWidth:12,boxHeight:12}}}};
function opts(extra){return Object.assign({},base,extra,{plugins:Object.assign({},base.plugins,extra.plugins||{})});}
function axisTitle(t){return {display:true,text:t,color:'#52606d'};}

function heatmap(cv,m){
  var h=m.heat,n=h.labels.length,pts=[];
  for(var i=0;i<n;i++)for(var j=0;j<n;j++)pts.push({x:j,y:i,v:h.values[i][j],n:h.inputs[i][j]});
  var cells={id:'cells',beforeDatasetsDraw:function(chart){
    var ctx=chart.ctx,xs=chart.scales.x,ys=chart.scales.y;
    ctx.save();
    ctx.font='600 13px system-ui,sans-serif';ctx.textAlign='center';ctx.textBaseline='middle';
    pts.forEach(function(p){
      var x0=xs.getPixelForValue(p.x-0.5),x1=xs.getPixelForValue(p.x+0.5);
      var y0=ys.getPixelForValue(p.y-0.5),y1=ys.getPixelForValue(p.y+0.5);
      ctx.fillStyle=p.v===null?'#e9edf2':heatColor(p.v);
      ctx.fillRect(Math.min(x0,x1)+1,Math.min(y0,y1)+1,Math.abs(x1-x0)-2,Math.abs(y1-y0)-2);
      ctx.fillStyle=(p.v!==null&&(p.v<0.25||p.v>0.93))?'#fff':'#1f2933';
      ctx.fillText(p.v===null?'n/a':pct(p.v),(x0+x1)/2,(y0+y1)/2);
    });
    ctx.restore();
  }};
  var ticks=function(s){s.ticks=h.labels.map(function(_,i){return {value:i};});};
  new Chart(cv,{type:'scatter',data:{datasets:[{label:'top-1 agreement',data:pts,pointRadius:0,
      pointHoverRadius:0,pointHitRadius:28}]},
    options:opts({plugins:{legend:{display:false},tooltip:{callbacks:{
        title:function(){return '';},
        label:function(c){var p=c.raw;return h.labels[p.y]+' vs '+h.labels[p.x]+': '+
          (p.v===null?'no common inputs':pct(p.v)+' top-1 agreement over '+p.n+' inputs');}}}},
      scales:{
        x:{type:'linear',min:-0.5,max:n-0.5,afterBuildTicks:ticks,grid:{display:false},
           ticks:{autoSkip:false,maxRotation:40,callback:function(v){return h.labels[v];}},
           title:axisTitle('environment B')},
        y:{type:'linear',min:-0.5,max:n-0.5,reverse:true,afterBuildTicks:ticks,grid:{display:false},
           ticks:{autoSkip:false,callback:function(v){return h.labels[v];}},
           title:axisTitle('environment A')}}}),
    plugins:[cells]});
}

function latency(cv,m,d){
  var L=m.latency,labels=L.map(function(e){return e.label;});
  var col=L.map(function(e){return d.colors[e.env];});
  var samples=[],sampleColors=[];
  L.forEach(function(e){e.samples.forEach(function(v){samples.push({x:e.label,y:v});
    sampleColors.push(rgba(d.colors[e.env],0.55));});});
  new Chart(cv,{type:'bar',data:{labels:labels,datasets:[
      {type:'bar',label:'min\u2013max',data:L.map(function(e){return [e.min,e.max];}),grouped:false,
       backgroundColor:col.map(function(c){return rgba(c,0.18);}),borderColor:col,borderWidth:1,
       barPercentage:0.18,order:3},
      {type:'bar',label:'p25\u2013p75',data:L.map(function(e){return [e.p25,e.p75];}),grouped:false,
       backgroundColor:col.map(function(c){return rgba(c,0.6);}),borderColor:col,borderWidth:1,
       barPercentage:0.55,order:2},
      {type:'line',label:'median',data:L.map(function(e){return e.median;}),showLine:false,
       pointStyle:'line',pointRadius:22,pointHoverRadius:22,borderWidth:3,borderColor:'#1f2933',order:1},
      {type:'line',label:'p99',data:L.map(function(e){return e.p99;}),showLine:false,
       pointStyle:'triangle',pointRadius:5,backgroundColor:'#1f2933',borderColor:'#1f2933',order:1},
      {type:'line',label:'samples',data:samples,showLine:false,pointRadius:2.5,
       pointBackgroundColor:sampleColors,pointBorderWidth:0,backgroundColor:'#9aa5b1',order:0}]},
    options:opts({plugins:{tooltip:{callbacks:{label:function(c){
        var r=c.raw;if(Array.isArray(r))return c.dataset.label+': '+fmt3(r[0])+' \u2013 '+fmt3(r[1])+' ms';
        var y=(r!==null&&typeof r==='object')?r.y:r;return c.dataset.label+': '+fmt3(y)+' ms';}}}},
      scales:{y:{title:axisTitle('latency (ms)'),beginAtZero:false},x:{grid:{display:false}}}})});
}

var valueLabels={id:'valueLabels',afterDatasetsDraw:function(chart){
  var ctx=chart.ctx;ctx.save();ctx.font='11px system-ui,sans-serif';ctx.fillStyle='#334e68';
  ctx.textAlign='center';ctx.textBaseline='bottom';
  chart.data.datasets.forEach(function(ds,i){chart.getDatasetMeta(i).data.forEach(function(el,k){
    var v=ds.data[k];if(v===null||v===undefined)return;ctx.fillText(v.toFixed(1),el.x,el.y-2);});});
  ctx.restore();}};

function accuracy(cv,m,d){
  var A=m.accuracy,col=A.map(function(e){return d.colors[e.env];});
  new Chart(cv,{type:'bar',data:{labels:A.map(function(e){return e.label;}),datasets:[
      {label:'top-1',data:A.map(function(e){return e.top1===null?null:e.top1*100;}),backgroundColor:col},
      {label:'top-'+m.top_k,data:A.map(function(e){return e.topk===null?null:e.topk*100;}),
       backgroundColor:col.map(function(c){return rgba(c,0.35);}),borderColor:col,borderWidth:1}]},
    options:opts({plugins:{legend:{labels:{generateLabels:function(){return [
        {text:'top-1 (solid)',fillStyle:'#52606d',strokeStyle:'#52606d',lineWidth:1},
        {text:'top-'+m.top_k+' (light)',fillStyle:'rgba(82,96,109,0.3)',strokeStyle:'#52606d',lineWidth:1}];}}},
        tooltip:{callbacks:{label:function(c){return c.dataset.label+': '+(c.raw===null?'\u2014':c.raw.toFixed(1)+' %');}}}},
      scales:{y:{min:0,max:105,title:axisTitle('accuracy (%)'),ticks:{callback:function(v){return v<=100?v:'';}}},
              x:{grid:{display:false}}}}),
    plugins:[valueLabels]});
}

function resources(cv,m,d,key,title){
  var ds=m.resources.map(function(e){return {label:e.label,
    data:e.t.map(function(t,i){return {x:t,y:e[key][i]};}),borderColor:d.colors[e.env],
    backgroundColor:d.colors[e.env],pointRadius:2,borderWidth:2,tension:0.2,spanGaps:true};});
  new Chart(cv,{type:'line',data:{datasets:ds},options:opts({parsing:true,
    plugins:{tooltip:{callbacks:{label:function(c){return c.dataset.label+': '+fmt3(c.raw.y)+(key==='cpu'?' %':' MB');}}}},
    scales:{x:{type:'linear',title:axisTitle('time since start (s)')},y:{title:axisTitle(title),beginAtZero:true}}})});
}

function timing(cv,m,d){
  var T=m.timing;
  new Chart(cv,{type:'bar',data:{labels:T.inputs,datasets:T.series.map(function(s){return {
      label:s.label,data:s.change,backgroundColor:d.colors[s.env]};})},
    options:opts({plugins:{tooltip:{callbacks:{label:function(c){return c.dataset.label+': '+
        (c.raw===null?'\u2014':(c.raw>=0?'+':'')+c.raw.toFixed(1)+' %');}}}},
      scales:{y:{title:axisTitle('median time vs '+T.baseline+' (%)')},x:{grid:{display:false}}}})});
}

try{
  if(typeof Chart==='undefined')throw new Error('Chart.js did not load');
  Chart.defaults.font.family='system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif';
  Chart.defaults.color='#3e4c59';
  var d=JSON.parse(document.getElementById('concord-data').textContent);
  var drawn=0;
  document.querySelectorAll('canvas[data-chart]').forEach(function(cv){
    var kind=cv.dataset.chart,m=d.models[Number(cv.dataset.model)];
    try{
      if(!m)throw new Error('no data for model '+cv.dataset.model);
      if(kind==='heatmap')heatmap(cv,m,d);
      else if(kind==='latency')latency(cv,m,d);
      else if(kind==='accuracy')accuracy(cv,m,d);
      else if(kind==='cpu')resources(cv,m,d,'cpu','CPU (%)');
      else if(kind==='rss')resources(cv,m,d,'rss','resident memory (MB)');
      else if(kind==='timing')timing(cv,m,d);
      else throw new Error('unknown chart kind');
      cv.dataset.rendered='1';drawn++;
    }catch(e){window.concordFail(kind+' chart of model '+cv.dataset.model+': '+e.message);}
  });
  if(!window.concordRenderErrors.length){
    document.body.dataset.renderStatus='ok';
    var s=document.getElementById('render-status');if(s)s.textContent=drawn+' charts rendered';
  }
}catch(e){window.concordFail(e.message);}
})();
